"""Every reply the front-end makes itself. Postfix's own replies are relayed verbatim."""

from __future__ import annotations

AUTH_OK = "235 2.7.0 Authentication successful"
AUTH_INVALID = "535 5.7.8 Authentication credentials invalid"
AUTH_LOCKED_OUT = "421 4.7.0 Too many failed authentication attempts; try again later"
AUTH_MALFORMED = "501 5.5.2 Cannot decode AUTH response"
AUTH_ABORTED = "501 5.7.0 Authentication aborted"

SENDER_OK = "250 2.1.0 Ok"
RECIPIENT_OK = "250 2.1.5 Ok"
SENDER_NULL = "550 5.7.1 A null sender is not accepted for submission"
SENDER_NOT_OWNED = "550 5.7.1 Sender domain {domain} is not a verified domain of this account"
TENANT_INACTIVE = "550 5.7.1 This account may not send mail"
TENANT_PAUSED = ("451 4.7.1 Sending is paused for this account: its bounce or complaint rate is too high; "
                 "the relay operator can resume it")
HEADER_FROM_MISSING = "550 5.6.0 The message needs exactly one From header"
IDENTITY_HEADER_UNREADABLE = ("550 5.6.0 The {header} header cannot be read the same way by every mail "
                              "reader; write each address plainly, as Name <user@domain>")
IDENTITY_HEADER_NOT_OWNED = ("550 5.7.1 {header} header names domain {domain}, which is not a verified "
                             "domain of this account")
BAD_ADDRESS = "501 5.1.7 Malformed address"
ADDRESS_LITERAL = "550 5.1.2 Address literals ([192.0.2.1]) are not accepted; use a domain name"
NEEDS_SMTPUTF8 = "553 5.6.7 A non-ASCII address needs the SMTPUTF8 parameter of MAIL FROM"
HEADER_TOO_BIG = "552 5.3.4 A header field exceeds {limit} octets; the message is refused, not cut"
INTERNAL_ERROR = "451 4.3.0 Internal error; try again later"
BAD_ARGUMENT = "501 5.5.2 NUL bytes and invalid UTF-8 are not allowed in commands"

RECIPIENT_SUPPRESSED = ("550 5.7.1 Recipient {address} is on the suppression list ({reason}); "
                        "it can be removed from the list by the account's administrator")
LIST_HEADER_INVALID = "550 5.6.0 {error}; the message names no list"
ALL_UNSUBSCRIBED = ("550 5.7.1 Every recipient unsubscribed from list {list}; "
                    "the message was not sent")
ALREADY_QUEUED = "250 2.0.0 Already queued as {queue_id}; a message with this Message-ID was not sent again"
RESUBMISSION_IN_FLIGHT = ("451 4.7.1 A message with this Message-ID is being queued now; "
                          "try again in a minute")
RESUBMISSION_UNCHECKED = ("451 4.3.0 Cannot check whether this Message-ID was sent already; "
                          "try again later")
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
# 452 at RCPT: the client sends the other recipients in a transaction of their own.
SIMULATOR_APART = "452 4.5.3 Send to the mailbox simulator in a message of its own"
MESSAGE_TOO_BIG = "552 5.3.4 Message size exceeds fixed maximum message size"
LINE_TOO_LONG = "554 5.6.0 Message has a line longer than 998 octets (RFC 5322 2.1.1)"
BARE_CR = "554 5.6.0 Message contains a bare CR; lines must end with CRLF"
NUL_IN_DATA = "554 5.6.0 Message contains NUL bytes"
NEED_RCPT = "503 5.5.1 Error: need RCPT command"
DATA_SYNTAX = "501 5.5.4 Syntax: DATA"
START_DATA = "354 End data with <CR><LF>.<CR><LF>"

TOO_MANY_CONNECTIONS = "421 4.7.0 Too many connections; try again later"
UPSTREAM_UNAVAILABLE = "451 4.3.0 Mail system temporarily unavailable; try again later"
SHUTTING_DOWN = "421 4.3.2 Service shutting down; try again later"
