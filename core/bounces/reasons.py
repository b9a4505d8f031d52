"""From what a report says about one recipient to a reason, and from a reason to a kind.

Reasons are Sisimai's categories, and so is the order of judgement, since the
corpus labels follow it: first the reasons that the status code or specific words
settle (a full mailbox, an unknown user refused at RCPT, ...); then, when the status
code names only a vague reason or none, the words alone; then the code's class, the
SMTP stage and the action. An unknown user reported after DATA, or at a stage the
report does not name, is a content filter's verdict, not proof that the address is
gone, so it is "filtered" and soft; a temporary (4.x.x) failure never makes a hard
bounce. Before all of these, the verdicts that particular servers word in their own
way (core.bounces.verdicts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.bounces.verdicts import server_verdict

# Reasons the status code alone may name only vaguely: words may still say better.
_VAGUE = frozenset({"undefined", "onhold", "systemerror", "securityerror", "expired", "networkerror",
                    "hostunknown", "userunknown"})
_BEFORE_DATA = frozenset({"CONN", "EHLO", "HELO", "MAIL", "RCPT"})
HARD_REASONS = frozenset({"userunknown", "hostunknown", "hasmoved"})
# What reason_for gives when the words decide nothing.
UNDECIDED = ("onhold", "undefined")


@dataclass(frozen=True)
class Diagnosis:
    status: str | None
    reply_code: int | None
    text: str  # the remote server's words about this recipient
    command: str | None = None  # the SMTP command that was refused: CONN, EHLO, MAIL, RCPT, DATA
    delayed: bool = False  # the report says delivery is still being tried
    local_mailer: bool = False  # a local program (procmail, a pipe) failed, not SMTP
    # Where the receiving server may be named: the Remote-MTA, the Reporting-MTA, the recipient's domain.
    remote_hosts: tuple[str, ...] = ()
    classified: str | None = None  # the reason the reporting software itself gives, when it gives one


_PHRASES: dict[str, tuple[str, ...]] = {
    "mailboxfull": (r"mailbox (is )?full", r"over ?quota", r"quota (exceeded|full)", r"exceeded storage",
                    r"insufficient (disk )?space", r"mailbox size limit", r"too much mail", r"full mailbox",
                    r"user is over", r"storage allocation", r"mailbox (has )?exceeded", r"mailfolder is full",
                    r"not enough (storage|space)", r"account is full", r"disk quota",
                    r"over the allowed quota", r"mail ?box full", r"boite du destinataire pleine",
                    r"exceeds? (his|her|the) quota"),
    "mesgtoobig": (r"message (size )?(is )?too (big|large)", r"exceeds? (the )?(maximum )?(message )?size",
                   r"size limit exceeded", r"message size exceeds", r"message length exceeds",
                   r"mail too large", r"message exceeds .{0,20}limit"),
    "exceedlimit": (r"exceeded? (the )?(local )?limit", r"too many recipients", r"message too many lines",
                    r"recipient limit"),
    "suspend": (r"suspend", r"disabled", r"inactive", r"deactivated",
                r"account (has been )?(closed|locked|frozen)", r"temporarily unavailable",
                r"account (is )?(not )?(active|blocked)", r"mailbox (is )?unavailable: (disabled|locked)",
                r"is no longer in use", r"expired account", r"has been terminated"),
    "hasmoved": (r"has moved", r"no longer (with|at)", r"address has changed", r"has been changed to"),
    "norelaying": (r"relay(ing)? (access )?(denied|not permitted|prohibited|not allowed)",
                   r"not (allowed|permitted) to relay", r"unable to relay", r"we do not relay",
                   r"relaying (mail )?(to .{0,60})?(is )?(denied|not)", r"no relaying", r"not a gateway",
                   r"relay not permitted", r"isn't in my list of allowed rcpthosts",
                   r"address is not verified"),
    "authfailure": (r"\bspf\b", r"dkim", r"dmarc", r"sender policy framework", r"not authorized to send",
                    r"authentication (failed|required)", r"fail(ed)? (sender )?authentication"),
    "userunknown": (r"user (unknown|not found|doesn'?t exist|does not exist|not exist)",
                    r"unknown (user|recipient|local|mailbox|address|e-?mail address)",
                    r"no such (user|mailbox|recipient|address|person)",
                    r"(mailbox|recipient|address|account|addressee) "
                    r"(unavailable|not found|does not exist|doesn'?t exist|unknown|invalid)",
                    r"invalid (recipient|mailbox|address)", r"not (a )?valid (recipient|mailbox|user)",
                    r"undeliverable address", r"no mailbox", r"recipient not found", r"not our customer",
                    r"bad destination mailbox", r"is not a known user",
                    r"recipient name is not recognized", r"does(n'?t| not) have an? .{0,20}account",
                    r"recipient address rejected: (access denied|invalid user|unknown user|user unknown)",
                    r"not listed in (the )?(domino|public name & address book|directory)",
                    r"no (matches|match) (to|for) (name|address) ", r"not a (known|valid) address",
                    r"user (.{1,64}) (is )?unknown", r"the following recipients? (was|were) undeliverable",
                    r"not known at this site", r"mailbox does not exist",
                    r"destination addresses were unknown",
                    r"could not be delivered because the address was not found", r"no account by that name",
                    r"nonexistent user", r"non-existent user", r"does not exist\.", r"bad recipient",
                    r"no valid recipients", r"invalid .{0,20}userid", r"ディレクトリのリストにありません",
                    r"check if (the )?address is correct"),
    "filtered": (r"filtered", r"message rejected due to user rules", r"refused due to recipient preferences",
                 r"is not accepting any mail", r"user refuses to receive", r"user reject",
                 r"account is protected by", r"only accepting mail from specific"),
    "requireptr": (r"reverse (dns|lookup|mapping)", r"no ptr", r"ptr record", r"cannot find your hostname",
                   r"not have a ptr", r"\brdns\b", r"hostname lookup", r"client host .{0,60} unknown",
                   r"cannot resolve your address", r"mismatches client ip"),
    "notcompliantrfc": (r"rfc ?5322", r"rfc ?2822", r"multiple .{0,10} headers", r"duplicate header"),
    "badreputation": (r"reputation",),
    "contenterror": (r"improper use of 8-bit data", r"header (line )?(too long|syntax)", r"message header",
                     r"illegal (attachment|character)", r"bare (lf|cr)"),
    "rejected": (r"sender (address )?(rejected|denied|refused|not allowed|verify failed|is blacklisted)",
                 r"(after|in reply to) mail from", r"domain of sender address", r"sender domain",
                 r"envelope sender",
                 r"your address .{0,20}(is )?(not allowed|blocked)", r"administrative prohibition",
                 r"has been denied", r"sender .{0,40} rejected", r"the group .{0,60} may not exist"),
    # "Host not found, try again" is a resolver's temporary failure (networkerror).
    "hostunknown": (r"host (or domain name )?(not found(?!, try again)|unknown)", r"unknown host",
                    r"host not found(?!, try again)",
                    r"domain (not found|does not exist|unknown|is not reachable|name not found)",
                    r"no (mx|such domain)", r"name or service not known", r"nxdomain",
                    r"unrouteable (mail domain|address)", r"domain .{0,60} does not exist",
                    r"\S+\.\S+ does not exist",
                    r"account or domain may not exist", r"host unknown",
                    r"host \S+ not found(?!, try again)"),
    "spamdetected": (r"spam", r"junk mail", r"bulk mail", r"unsolicited", r"message content rejected",
                     r"content filter", r"classified as"),
    "toomanyconn": (r"too many (connections|sessions|concurrent)", r"connection limit", r"rate limit",
                    r"too many messages", r"throttl", r"too fast"),
    "blocked": (r"block(ed|list)", r"black ?list", r"\bdnsbl\b", r"\brbl\b", r"spamhaus", r"barracuda",
                r"banned", r"listed (at|in|on)", r"poor reputation", r"your (ip|host|server)",
                r"access denied.*ip", r"connection (refused|rejected)", r"use the smtp server of your isp",
                r"dynamic ip", r"dial-?up", r"not (allowed|permitted) to (connect|send mail from)",
                r"client host (rejected|refused)", r"refused to talk to me",
                r"(ip|address) .{0,40} (rejected|refused|denied)"),
    "virusdetected": (r"virus", r"malware", r"infected"),
    "policyviolation": (r"policy", r"prohibited", r"not allowed", r"violat"),
    "systemerror": (r"system error", r"internal error", r"server error", r"local error", r"misconfig",
                    r"transaction failed", r"service (currently )?unavailable", r"hop count exceeded",
                    r"routing loop", r"mail loop", r"too many hops", r"loop detected",
                    r"local configuration error", r"server configuration problem"),
    "networkerror": (r"network", r"connection (timed out|lost|reset)", r"timeout", r"timed out",
                     r"could not connect", r"name service error", r"dns (error|failure|lookup)",
                     r"socket error", r"did not accept our requests to connect", r"unable to connect",
                     r"host not found, try again", r"no answer", r"no route to host", r"not reachable"),
    "systemfull": (r"system (is )?full", r"insufficient system storage", r"disk (is )?full"),
    "notaccept": (r"does not accept (mail|e-?mail)", r"not accept(ing)? mail", r"null mx", r"no smtp service",
                  r"accepts no mail"),
    "expired": (r"delivery time expired", r"retry time(out)? (exceeded|expired)", r"expired", r"too long",
                r"could not be delivered for", r"message timed out", r"giving up", r"retry timeout",
                r"will be retried", r"have been failing for a long time",
                r"delivery (attempts )?will continue", r"has not (yet )?been delivered",
                r"delivery failed \d+ attempts", r"delayed", r"could not deliver .{0,40} for \d+",
                r"not delivered within \d+ days"),
    "securityerror": (r"\btls\b", r"starttls", r"encryption", r"certificate", r"security"),
    "mailererror": (r"mailer error", r"unknown mailer", r"program", r"pipe to", r"command died", r"procmail",
                    r"exited with", r"x-unix"),
    "syntaxerror": (r"syntax error", r"command unrecognized", r"bad sequence", r"command parameter not",
                    r"malformed address", r"command not implemented", r"unrecognized command"),
    "vacation": (r"out of (the )?office", r"on vacation", r"away from (my|the) office",
                 r"auto(matic)?[ -]reply"),
}
# Matched against lower-cased text: much faster than IGNORECASE.
_PATTERNS = {reason: re.compile("|".join(phrases)) for reason, phrases in _PHRASES.items()}

# Reasons settled first by the status code or by specific words, in the order they are tried.
_FIRST = ("mailboxfull", "mesgtoobig", "exceedlimit", "suspend", "hasmoved", "norelaying", "authfailure",
          "userunknown", "filtered", "requireptr", "notcompliantrfc", "badreputation", "contenterror",
          "rejected", "hostunknown", "spamdetected", "toomanyconn", "blocked")
# Then words alone, when the status code says nothing specific.
_THEN = ("mailboxfull", "mesgtoobig", "exceedlimit", "suspend", "userunknown", "filtered", "rejected",
         "hostunknown", "authfailure", "badreputation", "toomanyconn", "spamdetected", "virusdetected",
         "blocked", "policyviolation", "norelaying", "systemerror", "networkerror", "contenterror",
         "systemfull", "notaccept", "expired", "securityerror", "hasmoved", "mailererror")

# What a local delivery program's words may say, in the order they are tried.
_LOCAL_MAILER = ("mailboxfull", "spamdetected", "policyviolation", "virusdetected", "securityerror",
                 "systemerror", "networkerror", "suspend", "expired", "contenterror", "systemfull",
                 "notaccept", "mailererror")

# Enhanced status codes (RFC 3463) that name a reason on their own.
_STATUS_REASONS = {
    "5.1.1": "userunknown", "5.1.0": "userunknown", "5.1.3": "userunknown", "4.1.1": "userunknown",
    "5.1.351": "userunknown",  # Exchange Online: "Remote server returned unknown recipient"
    "5.1.6": "hasmoved", "5.1.7": "rejected", "5.1.8": "rejected", "4.1.8": "rejected",
    "5.1.2": "hostunknown", "4.1.2": "hostunknown", "5.1.10": "userunknown", "5.4.4": "hostunknown",
    "5.2.2": "mailboxfull", "4.2.2": "mailboxfull", "5.2.0": "filtered",
    "5.2.3": "exceedlimit", "5.3.4": "mesgtoobig", "4.3.1": "systemfull", "5.3.1": "systemfull",
    "4.4.7": "expired", "5.4.7": "expired", "4.4.1": "expired", "4.4.2": "networkerror",
    "5.4.6": "networkerror",
    "4.4.5": "toomanyconn", "5.5.1": "syntaxerror", "5.5.2": "syntaxerror", "5.5.4": "syntaxerror",
    "5.5.3": "exceedlimit", "5.7.0": "securityerror", "5.7.9": "securityerror", "5.7.23": "authfailure",
    "5.7.25": "requireptr", "5.7.26": "authfailure", "5.7.27": "notaccept", "5.6.0": "contenterror",
    "5.6.1": "contenterror", "5.3.0": "systemerror", "5.3.2": "systemerror",
    "5.3.5": "systemerror", "4.3.5": "systemerror", "4.4.3": "systemerror",
}


class _Words:
    """The diagnostic text, lower-cased once, with each reason's phrases looked for at most once."""

    def __init__(self, text: str) -> None:
        self.text = " ".join(text[:4096].lower().split())
        self._found: dict[str, bool] = {}

    def say(self, reason: str) -> bool:
        found = self._found.get(reason)
        if found is None:
            found = self._found[reason] = _PATTERNS[reason].search(self.text) is not None
        return found


def _ruled_out(reason: str, d: Diagnosis) -> bool:
    """A temporary (4.x.x) failure is never proof that an address is gone."""
    return reason in HARD_REASONS and (d.status or "").startswith("4.")


# A remote server's reply quoted in a report: "550 ...", "said: 550", "ERROR_CODE :550".
_QUOTED_REPLY = re.compile(r"(?<![\w.])[45]\d\d(?![\w.])")


def _own_words(d: Diagnosis, words: _Words) -> bool:
    """The report states the failure in the reporting server's own words: no status code, no
    remote reply quoted, no stage named. Such a server is the recipient's own (Exchange,
    Domino, a gateway in front of them) and read its directory; it filtered nothing."""
    return (d.status is None and d.reply_code is None and d.command is None
            and _QUOTED_REPLY.search(words.text) is None)


def _settles(reason: str, named: str, d: Diagnosis, words: _Words) -> bool:
    if _ruled_out(reason, d):
        return False
    if reason == "userunknown":
        if named == "userunknown":
            others = ("blocked", "mailboxfull", "hasmoved", "notaccept", "rejected")
            return not any(words.say(r) for r in others)
        return (d.command == "RCPT" or _own_words(d, words)) and words.say("userunknown")
    if reason == "filtered":
        if named == "filtered":
            return words.say("userunknown") or words.say("filtered")
        return d.command not in _BEFORE_DATA and (words.say("filtered") or words.say("userunknown"))
    return named == reason or words.say(reason)


def reason_for(d: Diagnosis) -> str:
    if d.status and d.status.startswith("2."):
        return "delivered"
    words = _Words(d.text)
    verdict = d.classified or server_verdict(words.text, d.remote_hosts)
    if verdict and not _ruled_out(verdict, d):
        return verdict
    if d.local_mailer:
        # A local program's failure (procmail, a pipe): its words may name a full mailbox and
        # the like; an SMTP-style "no such user" from it is the program's trouble, not the address's.
        return next((r for r in _LOCAL_MAILER if words.say(r)), "mailererror")
    named = _STATUS_REASONS.get(d.status or "", "")
    for reason in _FIRST:
        if _settles(reason, named, d, words):
            return reason
    if named and named not in _VAGUE:
        return named
    for reason in _THEN:
        if words.say(reason) and not _ruled_out(reason, d):
            return reason
    if named:
        return named
    if d.status and d.status[2:3] == "6":
        return "contenterror"
    if d.status and d.status[2:3] == "7":
        return "securityerror"
    if words.say("syntaxerror") or d.reply_code in (500, 501, 502, 503, 504):
        return "syntaxerror"
    if d.delayed:
        return "expired"
    if d.command in ("EHLO", "HELO", "CONN"):
        return "blocked"
    if words.say("vacation"):
        return "vacation"
    return "onhold" if words.text.strip() else "undefined"


def kind_for(reason: str, status: str | None, reply_code: int | None) -> str:
    if reason in HARD_REASONS:
        return "hard"
    if reason == "notaccept":
        permanent = (status or "").startswith("5") or (reply_code or 0) >= 500 or not (status or reply_code)
        return "hard" if permanent else "soft"
    return {"feedback": "complaint", "vacation": "autoreply", "delivered": "delivered",
            "undefined": "unknown", "onhold": "unknown"}.get(reason, "soft")


_COMMAND = re.compile(
    r"(?:in reply to|after|while (?:sending|talking)[^>]{0,80}>>>)\s*(?:the\s+)?"
    r"(rcpt|mail|data|end of data|ehlo|helo|initial connection|connect|greeting|banner)", re.IGNORECASE)


# Commands named in capitals in a transcript, latest stage last; not when part of a word or a
# name (DATABASE@EXAMPLE.JP).
_BARE_COMMAND = re.compile(
    r"(?<![0-9A-Za-z@.])(HELO|EHLO|STARTTLS|AUTH|MAIL FROM|MAIL|RCPT|DATA)(?![0-9A-Za-z@])")
_STAGE = ("CONN", "HELO", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA")


def command_in(text: str) -> str | None:
    """The SMTP command a failure answered, as the report's words give it."""
    match = _COMMAND.search(text[:8192])
    if match:
        word = match.group(1).lower()
        return {"rcpt": "RCPT", "mail": "MAIL", "data": "DATA", "end of data": "DATA", "ehlo": "EHLO",
                "helo": "HELO"}.get(word, "CONN")
    named = {found.split()[0] for found in _BARE_COMMAND.findall(text[:8192])}
    if not named:
        return None
    latest: str = max(named, key=_STAGE.index)
    return latest
