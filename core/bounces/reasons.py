"""From a status code, a reply code and the diagnostic text to a reason, and from a reason to a kind.

Reasons are Sisimai's categories. The text is looked at first, since servers send
generic codes with specific words (a 550 5.7.1 can mean blocked, spam or policy);
then the enhanced status code; then the reply code.
"""

from __future__ import annotations

import re

# Checked in order; the first phrase found in the diagnostic text names the reason.
_PHRASES: list[tuple[str, tuple[str, ...]]] = [
    ("rejected", (r"sender (address )?(rejected|denied|refused|not allowed|verify failed)",
                  r"(after|in reply to) mail from", r"domain of sender address")),
    ("mailboxfull", (r"mailbox (is )?full", r"over ?quota", r"quota exceeded", r"exceeded storage",
                     r"insufficient (disk )?space", r"mailbox size limit", r"too much mail", r"full mailbox",
                     r"user is over", r"storage allocation")),
    ("mesgtoobig", (r"message (size )?(is )?too (big|large)", r"exceeds? (the )?(maximum )?(message )?size",
                    r"size limit exceeded", r"message size exceeds")),
    ("exceedlimit", (r"exceeded? (the )?(local )?limit", r"too many recipients")),
    ("hasmoved", (r"has moved", r"no longer (with|at)", r"address has changed")),
    ("requireptr", (r"reverse (dns|lookup|mapping)", r"no ptr", r"ptr record", r"cannot find your hostname",
                    r"not have a ptr", r"\brdns\b", r"hostname lookup", r"client host .* unknown")),
    ("authfailure", (r"\bspf\b", r"dkim", r"dmarc", r"sender policy framework", r"not authorized to send",
                     r"authentication (failed|required)", r"fail(ed)? (sender )?authentication")),
    ("spamdetected", (r"spam", r"junk mail", r"bulk mail", r"unsolicited", r"message content rejected",
                      r"content filter", r"classified as")),
    ("virusdetected", (r"virus", r"malware", r"infected")),
    ("blocked", (r"block(ed|list)", r"black ?list", r"\bdnsbl\b", r"\brbl\b", r"spamhaus", r"barracuda",
                 r"banned", r"listed (at|in|on)", r"poor reputation", r"your (ip|host|server)",
                 r"access denied.*ip", r"connection (refused|rejected)", r"use the smtp server of your isp",
                 r"dynamic ip", r"dial-?up")),
    ("badreputation", (r"reputation",)),
    ("toomanyconn", (r"too many (connections|sessions|concurrent)", r"connection limit", r"rate limit",
                     r"too many messages", r"throttl")),
    ("norelaying", (r"relay(ing)? (access )?(denied|not permitted|prohibited)",
                    r"not (allowed|permitted) to relay", r"unable to relay", r"we do not relay")),
    ("suspend", (r"suspend", r"disabled", r"inactive", r"deactivated",
                 r"account (has been )?(closed|locked|frozen)", r"temporarily unavailable")),
    ("userunknown", (r"user (unknown|not found|doesn'?t exist|does not exist)",
                     r"unknown (user|recipient|local|mailbox)", r"no such (user|mailbox|recipient|address)",
                     r"(mailbox|recipient|address|account) (unavailable|not found|does not exist|"
                     r"doesn'?t exist|unknown)",
                     r"invalid (recipient|mailbox|address)", r"not (a )?valid (recipient|mailbox|user)",
                     r"undeliverable address", r"no mailbox", r"recipient not found", r"not our customer",
                     r"unrouteable address", r"bad destination mailbox", r"is not a known user",
                     r"recipient name is not recognized", r"no such person", r"(address|addressee) unknown",
                     r"unknown address", r"does(n'?t| not) have an? .{0,20}account")),
    ("hostunknown", (r"host (or domain name )?(not found|unknown)", r"unknown host",
                     r"domain (not found|does not exist|unknown)", r"no (mx|such domain|route to host)",
                     r"name or service not known", r"nxdomain", r"unrouteable mail domain",
                     r"domain name not found")),
    ("expired", (r"delivery time expired", r"retry time(out)? (exceeded|expired)", r"expired", r"too long",
                 r"could not be delivered for", r"message timed out", r"giving up")),
    ("networkerror", (r"network", r"connection (timed out|lost|reset)", r"timeout", r"timed out",
                      r"could not connect", r"no route", r"loop")),
    ("filtered", (r"filter", r"content (rejected|denied)")),
    ("syntaxerror", (r"syntax error", r"command unrecognized", r"bad sequence")),
    ("securityerror", (r"\btls\b", r"encryption", r"certificate", r"security")),
    ("systemfull", (r"system (is )?full", r"insufficient system storage")),
    ("notaccept", (r"does not accept (mail|e-?mail)", r"not accept(ing)? mail", r"null mx")),
    ("policyviolation", (r"policy", r"prohibited", r"not allowed", r"violat")),
    ("rejected", (r"rejected", r"refused", r"denied")),
    ("mailererror", (r"mailer error", r"unknown mailer", r"program", r"pipe to", r"command died")),
    ("systemerror", (r"system error", r"internal error", r"server error", r"local error",
                     r"temporary failure", r"misconfig")),
]
_TEXT_REASONS = [(reason, re.compile("|".join(phrases), re.IGNORECASE)) for reason, phrases in _PHRASES]
# A recipient refused once the message was sent (after DATA) was refused for what it said.
_AFTER_DATA = re.compile(r"after (end of )?data|after the message|in reply to end of data", re.IGNORECASE)

# Enhanced status codes (RFC 3463) that name a reason on their own.
_STATUS_REASONS = {
    "5.1.1": "userunknown", "5.1.0": "userunknown", "5.1.3": "userunknown", "5.1.6": "hasmoved",
    "5.1.7": "rejected", "5.1.8": "rejected",
    "5.1.2": "hostunknown", "4.1.2": "hostunknown", "5.1.10": "notaccept",
    "5.2.2": "mailboxfull", "4.2.2": "mailboxfull", "5.2.1": "suspend", "4.2.1": "suspend",
    "5.2.3": "mesgtoobig", "5.3.4": "mesgtoobig", "4.3.1": "systemfull", "5.3.1": "systemfull",
    "4.4.7": "expired", "5.4.7": "expired", "4.4.1": "networkerror", "4.4.2": "networkerror",
    "5.4.4": "hostunknown", "4.4.5": "toomanyconn", "5.4.6": "networkerror",
    "5.5.1": "syntaxerror", "5.5.2": "syntaxerror", "5.5.4": "syntaxerror",
    "5.7.1": "rejected", "5.7.0": "securityerror", "5.7.9": "securityerror", "5.7.23": "authfailure",
    "5.7.25": "requireptr", "5.7.26": "authfailure", "5.7.27": "notaccept", "4.7.0": "blocked",
    "5.6.0": "contenterror", "5.6.1": "contenterror",
}

HARD_REASONS = frozenset({"userunknown", "hostunknown", "hasmoved"})


def reason_for(status: str | None, reply_code: int | None, text: str, context: str = "") -> str:
    """context: the report's human-readable text, which may say at which SMTP stage it failed."""
    text = text[:4096]
    for reason, pattern in _TEXT_REASONS:
        if pattern.search(text):
            after_data = _AFTER_DATA.search(text) or _AFTER_DATA.search(context[:4096])
            return "filtered" if reason == "userunknown" and after_data else reason
    if status and status in _STATUS_REASONS:
        return _STATUS_REASONS[status]
    if status and status.startswith(("4.", "5.")):
        return {"1": "userunknown", "2": "mailboxfull", "3": "systemerror", "4": "networkerror",
                "5": "syntaxerror", "6": "contenterror", "7": "securityerror"}.get(status[2:3], "undefined")
    return "undefined" if reply_code is None else ("systemerror" if reply_code >= 500 else "expired")


def kind_for(reason: str, status: str | None, reply_code: int | None) -> str:
    if reason in HARD_REASONS:
        return "hard"
    if reason == "notaccept":
        permanent = (status or "").startswith("5") or (reply_code or 0) >= 500
        return "hard" if permanent else "soft"
    return {"feedback": "complaint", "vacation": "autoreply", "delivered": "delivered",
            "undefined": "unknown", "onhold": "unknown"}.get(reason, "soft")
