"""The OpenAPI 3.1 description of the JSON API, built from the declared operations."""

from __future__ import annotations

from typing import Any

from admin.api.registry import ERROR_TEXTS, OPERATIONS, Operation
from admin.api.schemas import ERROR

TAGS = {
    "tenants": "Tenants, their limits, SMTP credentials and webhooks",
    "domains": "Sending domains, their DNS records, verification and DKIM keys",
    "suppressions": "The suppression list",
    "messages": "The message log and delivery events",
    "bounces": "Bounces and complaints as they came back",
    "pools": "IP pools (admins)",
    "queue": "The Postfix queue (admins)",
}


def _operation(op: Operation) -> dict[str, Any]:
    parameters = [{"name": name, "in": "path", "required": True, "schema": schema}
                  for name, schema in op.path_params.items()]
    parameters += [{"name": p.name, "in": "query", "required": p.required, "schema": p.schema,
                    "description": p.description} for p in op.query]
    success: dict[str, Any] = {"description": "Done" if op.status != 200 else "OK"}
    if op.result is not None:
        success["content"] = {"application/json": {"schema": op.result}}
    responses: dict[str, Any] = {str(op.status): success}
    for code in op.errors:
        responses[str(code)] = {"description": ERROR_TEXTS[code],
                                "content": {"application/json": {"schema": ERROR}}}
    described: dict[str, Any] = {
        "operationId": f"{op.tag}_{op.handler.__name__}", "summary": op.summary, "tags": [op.tag],
        "parameters": parameters, "responses": responses}
    if op.body is not None:
        described["requestBody"] = {"required": True,
                                    "content": {"application/json": {"schema": op.body}}}
    if op.admin_only:
        described["description"] = "Admins only."
    return described


def openapi_document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Mail relay admin API", "version": "1",
                 "description": "What the panel does, for programs. Authenticate with an API token made "
                                "on the panel's Account page: Authorization: Bearer rlt_…. A tenant "
                                "user's token sees and changes its own tenant only."},
        "servers": [{"url": "/api/v1"}],
        "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
        "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
        "security": [{"token": []}],
        "paths": paths,
    }
