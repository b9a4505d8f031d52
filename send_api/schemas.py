"""The send API's requests and answers as JSON Schemas: the service checks each body against
the very schema that the API's OpenAPI document (admin/api/openapi.py) publishes, and an
error names the field and what it takes (the field's description)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from core import message_tags

Schema = dict[str, Any]

MAX_BATCH = 500
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY = 255
# Whatever Python's str.splitlines() splits at (and the email package then refuses), and NUL.
# Written as "not this anywhere": Python reads a closing $ as matching before a last LF.
_LINE_BREAK = "[\\r\\n\\x00\\x0b\\x0c\\x1c-\\x1e\\x85\\u2028\\u2029]"
_NO_NUL = "^[^\\x00]*$"
_ONE = "no CR, LF, other line break or NUL"


def _line(description: str, max_length: int = 998, min_length: int = 0) -> Schema:
    return {"type": "string", "minLength": min_length, "maxLength": max_length,
            "not": {"pattern": _LINE_BREAK}, "description": description}


def _obj(properties: dict[str, Schema], required: tuple[str, ...]) -> Schema:
    return {"type": "object", "properties": properties, "additionalProperties": False,
            "required": list(required)}


ADDRESS = _line(f'an address, plain or as "Name <user@domain>"; {_ONE}', min_length=3)
ADDRESSES: Schema = {"anyOf": [ADDRESS, {"type": "array", "items": ADDRESS}],
                     "description": f"an address or a list of addresses; {_ONE}"}
ENVELOPE_ADDRESS = _line(f"an address as SMTP's MAIL and RCPT take it (user@domain); {_ONE}",
                         320, 3)
TAGS: Schema = {"type": "array", "maxItems": message_tags.MAX_TAGS,
                "items": {"type": "string", "pattern": f"^{message_tags.TAG.pattern}$"},
                "description": f"a list of strings: {message_tags.TAGS_RULE}; they come back in the "
                               "message's events and webhooks"}
METADATA: Schema = {"type": "object", "maxProperties": message_tags.MAX_METADATA_KEYS,
                    "propertyNames": {"pattern": f"^{message_tags.METADATA_KEY.pattern}$"},
                    "additionalProperties": {"type": "string"},
                    "description": f"an object whose values are strings: {message_tags.METADATA_RULE}; "
                                   "it comes back in the message's events and webhooks"}
ATTACHMENT = _obj({
    "filename": _line(f"the file's name; {_ONE}", 255, 1),
    "content_type": {"type": "string", "pattern": "^[A-Za-z0-9.+-]+/[A-Za-z0-9.+-]+$",
                     "description": "the file's type, such as application/pdf: what its bytes are"},
    "content": {"type": "string", "description": "the file's bytes, base64"},
}, ("filename", "content_type", "content"))
SEND = _obj({
    "from": ADDRESS, "to": ADDRESSES, "cc": ADDRESSES,
    "bcc": {**ADDRESSES, "description": f"addresses in the envelope only; {_ONE}"},
    "reply_to": ADDRESS, "subject": _line(f"the subject; {_ONE}"),
    "text": {"type": "string", "pattern": _NO_NUL, "description": "the plain text part; no NUL"},
    "html": {"type": "string", "pattern": _NO_NUL, "description": "the HTML part; no NUL"},
    "headers": {"type": "object", "propertyNames": {"pattern": "^[!-9;-~]{1,76}$"},
                "additionalProperties": _line(f"a field's value; {_ONE}"),
                "description": "extra header fields by name; a field the message is made of (From, To, "
                               f"Subject, Date, Message-ID, MIME fields) cannot be given; {_ONE}"},
    "attachments": {"type": "array", "items": ATTACHMENT,
                    "description": "files: filename, content_type and content (base64)"},
    "tags": TAGS, "metadata": METADATA,
}, ("from",))
SEND_RAW = _obj({
    "from": ENVELOPE_ADDRESS,
    "to": {"type": "array", "minItems": 1, "items": ENVELOPE_ADDRESS,
           "description": f"the recipients, as SMTP's RCPT takes them; {_ONE}"},
    "message": {"type": "string", "description": "the RFC 5322 message, base64"},
    "tags": TAGS, "metadata": METADATA,
}, ("from", "to", "message"))
# A message with "message" is a ready one, as /send/raw takes it; any other, fields as /send takes them.
_MESSAGES: Schema = {"type": "array", "minItems": 1, "maxItems": MAX_BATCH,
                     "items": {"if": {"type": "object", "required": ["message"]},
                               "then": SEND_RAW, "else": SEND},
                     "description": f"a list of 1 to {MAX_BATCH} messages as /send or /send/raw takes them"}
SEND_BATCH = _obj({"messages": _MESSAGES}, ("messages",))

SENT = _obj({"queue_id": {"type": "string", "description": "Postfix's queue id"},
             "message_ref": {"type": "string", "description": "the relay's ref, in events and webhooks"},
             "accepted": {"type": "array", "items": {"type": "string"}},
             "refused": {"type": "object", "additionalProperties": {"type": "string"},
                         "description": "recipients not sent to, and why (suppressed, unsubscribed)"}},
            ("queue_id", "message_ref", "accepted", "refused"))
ERROR = _obj({"error": {"type": "string"}}, ("error",))
BATCH_SENT = _obj({"results": {"type": "array", "items": {
    "description": "one a message, in order: status 200 and what /send answers, or a status and error",
    "anyOf": [{**SENT, "properties": {**SENT["properties"], "status": {"const": 200}},
               "required": [*SENT["required"], "status"]},
              _obj({"status": {"type": "integer"}, "error": {"type": "string"}}, ("status", "error"))]}}},
    ("results",))


IDEMPOTENCY_KEY: Schema = {
    "name": IDEMPOTENCY_HEADER, "in": "header", "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY, "pattern": "^[ -~]+$"},
    "description": "Send once: a repeat within the window (24 h by default) gets the first answer and sends "
                   "nothing; the same key with another body is a 422"}
ERRORS = {
    400: "The request is malformed; the error names the field and what it takes",
    401: "No valid send key (a panel token cannot send)",
    403: "The sender or header From domain is not one of the account's verified domains, or sending "
         "is paused for the account",
    409: f"A request with this {IDEMPOTENCY_HEADER} is still being sent; try again after Retry-After",
    413: "The body is too large",
    415: "The body is not application/json",
    422: f"Refused: every recipient suppressed, Postfix refused the message, or this {IDEMPOTENCY_HEADER} "
         "was used for a different request",
    429: "A sending limit of the account is reached; try again after Retry-After",
    503: "Postfix or the milter cannot be reached; try again after Retry-After",
}


@dataclass(frozen=True)
class SendOperation:
    path: str  # under /api/v1
    summary: str
    body: Schema
    result: Schema


OPERATIONS = (
    SendOperation("/send", "Send a message made from fields: the relay builds the MIME message", SEND, SENT),
    SendOperation("/send/raw", "Send a ready RFC 5322 message with its envelope", SEND_RAW, SENT),
    SendOperation("/send/batch", f"Send up to {MAX_BATCH} messages as /send or /send/raw takes them "
                                 "(one with message is a ready one), one result each "
                                 "(a message the schema refuses refuses the whole batch)",
                  SEND_BATCH, BATCH_SENT),
)
VALIDATORS = {op.path: Draft202012Validator(op.body) for op in OPERATIONS}


def _along(schema: Any, path: Iterator[str | int]) -> Iterator[Schema]:
    """The schemas on the way from schema along a schema path."""
    here: Any = schema
    for step in path:
        here = here[step]
        if isinstance(here, dict):
            yield here


def problem(validator: Draft202012Validator, body: Any) -> str | None:
    """What is wrong with body, naming the field and what it takes; None when nothing is."""
    found: ValidationError | None = next(validator.iter_errors(body), None)
    if found is None:
        return None
    where = "/".join(str(p) for p in found.absolute_path) or "body"
    if found.validator in ("required", "additionalProperties"):  # jsonschema says which property
        return f"{where}: {found.message}"[:500]
    described = [s["description"] for s in _along(validator.schema, iter(found.absolute_schema_path))
                 if "description" in s]
    return f"{where}: {described[-1] if described else found.message}"[:500]
