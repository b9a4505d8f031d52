"""Tags and metadata: what an app attaches to a message to know it again in events and webhooks.

An app names them in two header fields that only the relay reads: TAGS_HEADER, tags
separated by commas, and METADATA_HEADER, a JSON object of string values; over SMTP it
writes them itself, and the send API writes them from its tags and metadata fields. The
milter checks them, keeps them with its record of the message (AcceptedMessage) and
removes both fields; every event of the message carries them back, in the API and in
webhooks. Metadata stays on one header line, so it never depends on how a client folds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import InvalidInputError
from core.models import AcceptedMessage

TAGS_HEADER = "X-Mailrelay-Tags"
METADATA_HEADER = "X-Mailrelay-Metadata"
MAX_TAGS = 10
TAG = re.compile(r"[A-Za-z0-9_.:/-]{1,64}")
MAX_METADATA_KEYS = 20
METADATA_KEY = re.compile(r"[A-Za-z0-9_.-]{1,64}")
# The header line, name included, stays under RFC 5322's 998 octets.
MAX_METADATA_OCTETS = 900
TAGS_RULE = f"at most {MAX_TAGS}, each 1-64 of A-Z a-z 0-9 _ . : / -"
METADATA_RULE = (f"at most {MAX_METADATA_KEYS} keys, each 1-64 of A-Z a-z 0-9 _ . -, "
                 f"and {MAX_METADATA_OCTETS} octets as JSON (non-ASCII escaped)")


@dataclass(frozen=True)
class MessageTags:
    tags: tuple[str, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        return {"tags": list(self.tags), "metadata": dict(self.metadata)}


NONE = MessageTags()


def checked(tags: Any, metadata: Any) -> MessageTags:
    """Tags (a list of names) and metadata (an object of strings) as given; InvalidInputError
    saying what is wrong."""
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise InvalidInputError("tags is a list of strings")
    if len(tags) > MAX_TAGS or not all(TAG.fullmatch(t) for t in tags):
        raise InvalidInputError(f"tags: {TAGS_RULE}")
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise InvalidInputError("metadata is an object whose values are strings")
    if len(metadata) > MAX_METADATA_KEYS or not all(METADATA_KEY.fullmatch(k) for k in metadata) \
            or len(_metadata_value(metadata)) > MAX_METADATA_OCTETS:
        raise InvalidInputError(f"metadata: {METADATA_RULE}")
    return MessageTags(tuple(dict.fromkeys(tags)), dict(metadata))


def _metadata_value(metadata: dict[str, str]) -> str:
    return json.dumps(metadata, ensure_ascii=True, separators=(",", ":"))


def header_lines(given: MessageTags) -> bytes:
    """The header fields that carry them to the milter."""
    lines = ""
    if given.tags:
        lines += f"{TAGS_HEADER}: {','.join(given.tags)}\r\n"
    if given.metadata:
        lines += f"{METADATA_HEADER}: {_metadata_value(given.metadata)}\r\n"
    return lines.encode()


def _unfolded(value: str) -> str:
    return value.replace("\r", "").replace("\n", "")


def read(tags_values: list[str], metadata_values: list[str]) -> MessageTags:
    """What a message's TAGS_HEADER and METADATA_HEADER values say; InvalidInputError for a field
    given twice or a value that does not read."""
    if len(tags_values) > 1 or len(metadata_values) > 1:
        raise InvalidInputError(f"{TAGS_HEADER} and {METADATA_HEADER} may appear once each")
    tags = [t.strip() for t in _unfolded(tags_values[0]).split(",")] if tags_values else []
    metadata: Any = {}
    if metadata_values:
        try:
            metadata = json.loads(_unfolded(metadata_values[0]))
        except json.JSONDecodeError:
            raise InvalidInputError(f"{METADATA_HEADER} is not a JSON object") from None
    return checked([t for t in tags if t], metadata)


def stored(given: MessageTags) -> tuple[str, str]:
    """The AcceptedMessage columns tags and metadata_json."""
    return ",".join(given.tags), _metadata_value(given.metadata) if given.metadata else ""


def _from_row(tags: str, metadata_json: str) -> MessageTags:
    metadata = json.loads(metadata_json) if metadata_json else {}
    return MessageTags(tuple(t for t in tags.split(",") if t), metadata)


def of_messages(session: Session, message_refs: Iterable[str]) -> dict[str, MessageTags]:
    """The tags and metadata of the messages with these refs that have any."""
    refs = {ref for ref in message_refs if ref}
    if not refs:
        return {}
    rows = session.execute(select(AcceptedMessage.message_ref, AcceptedMessage.tags,
                                  AcceptedMessage.metadata_json)
                           .where(AcceptedMessage.message_ref.in_(refs),
                                  (AcceptedMessage.tags != "") | (AcceptedMessage.metadata_json != "")))
    return {ref: _from_row(tags, metadata_json) for ref, tags, metadata_json in rows}
