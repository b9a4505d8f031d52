"""The OpenAPI 3.1 description of the JSON API, built from the declared operations: the panel's
(admin/api, panel tokens) and the send API's (send_api/, its own process, send keys)."""

from __future__ import annotations

from typing import Any

from admin.api.registry import ERROR_TEXTS, OPERATIONS, Operation
from admin.api.schemas import ERROR
from send_api import schemas as send

TAGS = {
    "tenants": "Tenants, their limits, SMTP credentials and webhooks",
    "domains": "Sending domains, their DNS records, verification and DKIM keys",
    "suppressions": "The suppression list",
    "messages": "The message log and delivery events",
    "archive": "The archive of sent messages: search, the message as sent, resend; a tenant's retention",
    "bounces": "Bounces and complaints as they came back",
    "pools": "IP pools (admins)",
    "queue": "The Postfix queue (admins)",
    "send": "Sending mail over HTTPS with a send key (the send API, served apart from the panel)",
}


def _operation(op: Operation) -> dict[str, Any]:
    parameters = [{"name": name, "in": "path", "required": True, "schema": schema}
                  for name, schema in op.path_params.items()]
    parameters += [{"name": p.name, "in": "query", "required": p.required, "schema": p.schema,
                    "description": p.description} for p in op.query]
    success: dict[str, Any] = {"description": "Done" if op.status != 200 else "OK"}
    if op.result is not None:
        success["content"] = {op.media_type: {"schema": op.result}}
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


def _send_operation(op: send.SendOperation) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": {
        "description": "Queued by Postfix (a batch: each message's result)",
        "content": {"application/json": {"schema": op.result}}}}
    for code, text in send.ERRORS.items():
        responses[str(code)] = {"description": text, "content": {"application/json": {"schema": ERROR}}}
    return {"operationId": "send_" + (op.path.removeprefix("/send").strip("/") or "message"),
            "summary": op.summary, "tags": ["send"], "security": [{"sendKey": []}],
            "parameters": [send.IDEMPOTENCY_KEY], "responses": responses,
            "requestBody": {"required": True, "content": {"application/json": {"schema": op.body}}}}


def openapi_document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    for sending in send.OPERATIONS:
        paths[sending.path] = {"post": _send_operation(sending)}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Mail relay admin API", "version": "1",
                 "description": "What the panel does, for programs. Authenticate with an API token made "
                                "on the panel's Account page: Authorization: Bearer rlt_…. A tenant "
                                "user's token sees and changes its own tenant only. The send operations "
                                "take a send key instead and are served by the send API."},
        "servers": [{"url": "/api/v1"}],
        "tags": [{"name": name, "description": text} for name, text in TAGS.items()],
        "components": {"securitySchemes": {
            "token": {"type": "http", "scheme": "bearer", "description": "A panel API token, rlt_…"},
            "sendKey": {"type": "http", "scheme": "bearer", "description": "A send key, rsk_…"}}},
        "security": [{"token": []}],
        "paths": paths,
    }
