"""Verdicts that particular servers word in their own way, tried before the general rules.

The general rules (core.bounces.reasons) read a status code, common phrases and the SMTP
stage. Some servers say more than that in words of their own: Exchange 2003 and Domino
name an unknown user in a sentence no other server uses; au (KDDI) says "550 <address>:
User unknown" for a gone address but "550 : User unknown" for mail its user's filter
refused; Yahoo's "dd This user doesn't have a yahoo.com account" is final, although it
comes after DATA, where the general rules would call an unknown user a filter's verdict.

Two tables: phrases of reporting software, whoever sent the report, and phrases of a
receiving provider, which count only when a host the report names (its Remote-MTA or
Reporting-MTA, the reporter's domain, the recipient's domain) is that provider's. Sisimai
keeps such knowledge in per-server modules; a table of phrases is enough here, and what
each entry says is in its comment.
"""

from __future__ import annotations

import re

# Phrases of reporting software, matched against the lower-cased report text.
_REPORTERS: tuple[tuple[str, str], ...] = (
    (r"the recipient name is not recognized", "userunknown"),  # Exchange 2003 (MSEXCH:IMS)
    (r"^unknown user: \S+@", "userunknown"),  # IMail: "Unknown user: kijitora@example.com"
    (r"\(unknown user \S+@", "userunknown"),  # McAfee: "<address> (Unknown user address)"
    (r"invalid final delivery userid", "userunknown"),  # IMail
    (r"\.\.\. user not exist", "userunknown"),  # McAfee
    (r"not listed in (domino directory|public name & address book)", "userunknown"),  # Lotus Notes, Domino
    (r"ディレクトリのリストにありません", "userunknown"),  # Lotus Notes, Japanese
    (r"\(and other recipients in the same domain\)", "userunknown"),  # Trend Micro InterScan
    (r"no valid recipients for this mm", "userunknown"),  # Verizon's MMS gateway
    (r"mail\.local: unknown user", "userunknown"),  # Sendmail's local delivery agent
    (r"because the address couldn'?t be found", "userunknown"),  # Gmail: "Address not found"
)

# Phrases of receiving providers: host name pattern, then (phrase, reason) pairs.
_PROVIDERS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (r"(^|\.)(ezweb\.ne\.jp|au\.com)$", (  # au (KDDI)
        (r">: user unknown", "userunknown"),
        (r"550 : user unknown", "filtered"),
        (r"rejected by a remote mail server", "filtered"),  # au's own report: its user's filter
    )),
    (r"(^|\.)(yahoodns\.net|yahoo\.com)$", (
        (r"dd this user doesn't have a ", "userunknown"),
        (r"mailbox not found", "userunknown"),
        (r" is no longer valid\.", "suspend"),
        (r"this mailbox is disabled", "suspend"),
    )),
    (r"(^|\.)(laposte\.net|orange\.fr|wanadoo\.fr)$", (
        (r"lpn007_416|invalid recipient", "userunknown"),  # "Adresse destinataire invalide"
    )),
    (r"(^|\.)(hotmail\.com|outlook\.com|live\.com|msn\.com)$", (
        (r"requested action not taken: mailbox unavailable", "userunknown"),
    )),
    (r"(^|\.)(google\.com|googlemail\.com|gmail\.com)$", (
        (r"the email account that you tried to reach does not exist", "userunknown"),
    )),
    (r"(^|\.)messagelabs\.com$", (
        (r"\b5\d\d \S+@\S+ rejected", "userunknown"),  # "542 <address> Rejected"
    )),
    (r"(^|\.)facebook\.com$", (
        (r"refused due to recipient preferences", "filtered"),
    )),
    (r"(^|\.)amazonaws\.com$", (  # SES receiving: it drops mail its rules refuse
        (r"mailbox does not exist", "filtered"),
    )),
)

_REPORTER_PATTERNS = tuple((re.compile(phrase, re.MULTILINE), reason) for phrase, reason in _REPORTERS)
_PROVIDER_PATTERNS = tuple((re.compile(host), tuple((re.compile(p), r) for p, r in phrases))
                           for host, phrases in _PROVIDERS)

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
        for host_pattern, phrases in _PROVIDER_PATTERNS:
            if host_pattern.search(host):
                for phrase, reason in phrases:
                    if phrase.search(text):
                        return reason
                return _reporter_verdict(text)
    return _reporter_verdict(text)


def _reporter_verdict(text: str) -> str | None:
    for phrase, reason in _REPORTER_PATTERNS:
        if phrase.search(text):
            return reason
    return None
