"""API: the suppression list, per tenant and global."""

from __future__ import annotations

from typing import Any

from admin import patterns
from admin.access import visible_tenant
from admin.api.registry import ApiError, operation
from admin.api.schemas import ID, PAGE, TIMESTAMP, Param, listing, nullable, obj, text, timestamp
from admin.auth import is_admin
from admin.database import db
from admin.paging import paginate
from admin.use_cases import suppression_search, visible_suppression
from core import suppressions
from core.models import Suppression

ENTRY = obj({"id": ID, "address": {"type": "string"}, "tenant_id": nullable(ID),
             "list_name": {"type": "string", "description": "the one list it refuses; \"\": all mail"},
             "reason": {"enum": list(suppressions.REASONS)}, "detail": {"type": "string"},
             "created_at": TIMESTAMP})
ADDRESS = {"type": "string", "maxLength": patterns.ADDRESS_MAX, "pattern": patterns.ADDRESS}
LIST = {"type": "string", "maxLength": 64, "pattern": patterns.LIST}


def entry_json(entry: Suppression) -> dict[str, Any]:
    return {"id": entry.id, "address": entry.address, "tenant_id": entry.tenant_id,
            "list_name": entry.list_name, "reason": entry.reason, "detail": entry.detail,
            "created_at": timestamp(entry.created_at)}


@operation("GET", "/suppressions", "Search the suppression list, newest first", tag="suppressions",
           result=listing(ENTRY),
           query=(Param("q", text(patterns.ADDRESS_MAX), "Addresses starting with this"), PAGE,
                  Param("reason", {"enum": list(suppressions.REASONS)}),
                  Param("tenant_id", ID, "Only this tenant's (global entries are listed without it)"),
                  Param("list_name", LIST, "Only those for this list")))
def list_suppressions(q: str = "", page: int = 1, reason: str = "", tenant_id: int | None = None,
                      list_name: str | None = None) -> dict[str, Any]:
    found = paginate(suppression_search(q, reason, tenant_id, list_name), number=page)
    return {"items": [entry_json(e) for e in found.items], "page": found.number, "has_next": found.has_next}


@operation("POST", "/suppressions", "Suppress an address for a tenant, or for every tenant (admins, "
           "without tenant_id); for all mail, or for one list of the tenant's (list_name); suppressing it "
           "again returns the first entry", tag="suppressions", result=ENTRY, status=201,
           errors=(403, 404, 422),
           body=obj({"address": ADDRESS, "tenant_id": ID, "list_name": LIST, "detail": text(500)},
                    required=("address",)))
def add_suppression(body: dict[str, Any]) -> dict[str, Any]:
    if "tenant_id" in body:
        owner: str | None = visible_tenant(body["tenant_id"]).name
    elif is_admin():
        owner = None
    else:
        raise ApiError(403, "only admins suppress an address for every tenant; give tenant_id")
    return entry_json(suppressions.suppress(db(), owner, body["address"], "manual", body.get("detail", ""),
                                            body.get("list_name", "")))


@operation("DELETE", "/suppressions/{suppression_id}", "Remove an entry: mail to the address is accepted "
           "again", tag="suppressions", result=None, status=204)
def remove_suppression(suppression_id: int) -> None:
    suppressions.remove_entry(db(), visible_suppression(suppression_id))
