"""Verdicts that particular servers word in their own way, tried before the general rules.

The general rules (core.bounces.reasons) read a status code by RFC 3463's class and
subject, the reply code, phrases by reason and the SMTP stage. A server's own words
stand here only where more than one sample shows them or the vendor documents them
(each entry says which): Yahoo's "dd This user doesn't have a yahoo.com account" is
final although it comes after DATA, where the general rules would call an unknown
user a filter's verdict; au (KDDI) says "550 <address>: User unknown" for a gone
address but "550 : User unknown" for mail its user's filter refused.

Two kinds of entry: phrases of reporting software, whoever sent the report, and phrases
of a receiving provider, which count only when a host the report names (its Remote-MTA
or Reporting-MTA, the reporter's domain, the recipient's domain) is that provider's.
`servers` names the server families an entry was learnt from (Sisimai's module names,
as the bounce corpus names its samples), so that benchmarks/bounce_parse.py can score a
family as if the parser had never seen it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    servers: tuple[str, ...]
    phrase: re.Pattern[str]  # matched against the lower-cased report text
    reason: str
    hosts: re.Pattern[str] | None = None  # a provider's: counts only for a host of these


def _reporter(servers: tuple[str, ...], phrase: str, reason: str) -> Verdict:
    return Verdict(servers, re.compile(phrase, re.MULTILINE), reason)


def _provider(servers: tuple[str, ...], hosts: str, phrase: str, reason: str) -> Verdict:
    return Verdict(servers, re.compile(phrase), reason, re.compile(hosts))


_AU = r"(^|\.)(ezweb\.ne\.jp|au\.com)$"
_YAHOO = r"(^|\.)(yahoodns\.net|yahoo\.com|aol\.com)$"

VERDICTS: tuple[Verdict, ...] = (
    # Exchange 2003 (MSEXCH:IMS), four samples.
    _reporter(("exchange2003",), r"the recipient name is not recognized", "userunknown"),
    # Lotus Notes and Domino name their directory, three samples in two languages.
    _reporter(("domino", "notes"), r"not listed in (domino directory|public name & address book)",
              "userunknown"),
    _reporter(("notes",), r"ディレクトリのリストにありません", "userunknown"),
    # Trend Micro InterScan, two samples.
    _reporter(("trendmicro",), r"\(and other recipients in the same domain\)", "userunknown"),
    # Gmail's "Address not found" notice, two samples (and Google's SMTP error reference).
    _reporter(("gmail", "google", "gsuite"), r"because the address couldn'?t be found", "userunknown"),
    # Local delivery agents of the recipient's own box: mail.local(8) delivers only to valid
    # user names, Postfix's local(8) and virtual(8) answer "unknown user" (5.1.1) otherwise.
    _reporter(("sendmail", "postfix"), r"(mail\.local|delivery via (local|virtual)): unknown user",
              "userunknown"),
    # au (KDDI): four samples, and the reply shapes differ by who refused.
    _provider(("ezweb", "kddi"), _AU, r">: user unknown", "userunknown"),
    _provider(("ezweb", "kddi"), _AU, r"550 : user unknown", "filtered"),
    _provider(("ezweb", "kddi"), _AU, r"rejected by a remote mail server", "filtered"),
    # Yahoo's sender help lists these replies ("554 delivery error: dd ..."); two samples.
    _provider(("yahoo", "yahooinc", "aol"), _YAHOO, r"dd this user doesn't have a ", "userunknown"),
    _provider(("yahoo", "yahooinc", "aol"), _YAHOO, r"this mailbox is disabled", "suspend"),
    # La Poste's error codes: LPN007_416 is an invalid recipient address.
    _provider(("franceptt",), r"(^|\.)(laposte\.net|orange\.fr|wanadoo\.fr)$", r"lpn007_416", "userunknown"),
    # Outlook.com's error reference: "mailbox unavailable" there means no such recipient.
    _provider(("outlook", "microsoft", "office365"), r"(^|\.)(hotmail\.com|outlook\.com|live\.com|msn\.com)$",
              r"requested action not taken: mailbox unavailable", "userunknown"),
    # Facebook's postmaster response codes (RCP-P2: the recipient's own preferences).
    _provider(("facebook",), r"(^|\.)facebook\.com$", r"refused due to recipient preferences", "filtered"),
    # SES receiving answers so for mail its rules refuse, two samples.
    _provider(("receivingses", "amazonses"), r"(^|\.)amazonaws\.com$", r"mailbox does not exist", "filtered"),
)

# PowerMTA's own classification of a bounce (X-PowerMTA-BounceCategory), as its manual names them.
POWERMTA_CATEGORIES = {
    "bad-mailbox": "userunknown", "bad-domain": "hostunknown", "inactive-mailbox": "suspend",
    "quota-issues": "mailboxfull", "message-expired": "expired", "no-answer-from-host": "networkerror",
    "relaying-issues": "norelaying", "routing-errors": "systemerror", "spam-related": "spamdetected",
    "virus-related": "virusdetected", "policy-related": "policyviolation", "content-related": "contenterror",
    "invalid-sender": "rejected", "bad-connection": "networkerror", "protocol-errors": "syntaxerror",
}


def server_verdict(text: str, hosts: tuple[str, ...] = ()) -> str | None:
    """The reason a known server's own words give, or None. text is lower-cased already; hosts
    are the report's candidates for the remote host, most likely first."""
    for host in (h.lower().rstrip(".") for h in hosts if h):
        providers = [v for v in VERDICTS if v.hosts is not None and v.hosts.search(host)]
        if providers:
            said = next((v.reason for v in providers if v.phrase.search(text)), None)
            return said or _reporter_verdict(text)
    return _reporter_verdict(text)


def _reporter_verdict(text: str) -> str | None:
    return next((v.reason for v in VERDICTS if v.hosts is None and v.phrase.search(text)), None)
