"""Building blocks of the API's JSON Schemas."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from admin import patterns

Schema = dict[str, Any]
ID: Schema = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
TIMESTAMP: Schema = {"type": "string", "format": "date-time"}
ERROR: Schema = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}


@dataclass(frozen=True)
class Param:
    """A query parameter."""
    name: str
    schema: Schema
    description: str = ""
    required: bool = False


def timestamp(value: datetime | None) -> str | None:
    """Times are kept as naive UTC; the API writes them as RFC 3339."""
    return None if value is None else value.isoformat(timespec="seconds") + "Z"


def text(max_length: int, min_length: int = 0) -> Schema:
    return {"type": "string", "minLength": min_length, "maxLength": max_length, "pattern": patterns.TEXT}


def obj(properties: dict[str, Schema], required: tuple[str, ...] | None = None) -> Schema:
    """An object with no other properties; each is required unless required names some."""
    return {"type": "object", "properties": properties, "additionalProperties": False,
            "required": list(properties if required is None else required)}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def listing(item: Schema) -> Schema:
    """A page of items: page numbers from 1, and whether another page follows."""
    return obj({"items": {"type": "array", "items": item}, "page": {"type": "integer"},
                "has_next": {"type": "boolean"}})


def items(item: Schema) -> Schema:
    return obj({"items": {"type": "array", "items": item}})


PAGE = Param("page", {"type": "integer", "minimum": 1, "maximum": 10_000}, "Which page, from 1")
SEARCH = Param("q", text(320), "Text to search for")
