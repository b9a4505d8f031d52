"""API: tenants, their limits, pause and resume, SMTP credentials, send keys and webhooks."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from admin import patterns, use_cases
from admin.access import tenant_scope, visible_tenant
from admin.api.registry import operation
from admin.api.schemas import (
    ID,
    PAGE,
    SEARCH,
    TIMESTAMP,
    Schema,
    items,
    listing,
    nullable,
    obj,
    text,
    timestamp,
)
from admin.auth import user
from admin.context import panel
from admin.database import db
from admin.paging import paginate
from admin.use_cases import Keep, tenant_credential, tenant_webhook
from core import reputation, send_keys, tenants, webhooks
from core.limits import BY_NAME, LIMITS, MAXIMUM
from core.models import SendKey, SmtpCredential, Tenant
from core.states import TenantStatus

LIMIT: Schema = nullable({"type": "integer", "minimum": 0, "maximum": MAXIMUM})
LIMITS_SCHEMA = obj({limit.name: LIMIT for limit in LIMITS})
TENANT = obj({"id": ID, "name": {"type": "string"}, "status": {"enum": list(TenantStatus)},
              "pool": nullable({"type": "string"}), "created_at": TIMESTAMP, "limits": LIMITS_SCHEMA,
              "once_per_message_id": {"type": "boolean"}, "archive_days": {"type": "integer"},
              "archive_max_mib": {"type": "integer"}})
CHANGES = obj({**{limit.name: LIMIT for limit in LIMITS},
               "pool": nullable({"type": "string", "pattern": patterns.POOL})}, required=())
CREDENTIAL = obj({"id": ID, "username": {"type": "string"}, "created_at": TIMESTAMP,
                  "revoked_at": nullable(TIMESTAMP)})
NEW_CREDENTIAL = obj({"id": ID, "username": {"type": "string"},
                      "secret": {"type": "string", "description": "Shown this once only"}})
SEND_KEY = obj({"id": ID, "name": {"type": "string"}, "created_at": TIMESTAMP,
                "expires_at": nullable(TIMESTAMP), "revoked_at": nullable(TIMESTAMP),
                "state": {"enum": ["active", "expired", "revoked"]}})
NEW_SEND_KEY = obj({"id": ID, "name": {"type": "string"}, "expires_at": nullable(TIMESTAMP),
                    "key": {"type": "string", "description": "Shown this once only"}})
EXPIRES_IN_DAYS = {"type": "integer", "minimum": 1, "maximum": send_keys.MAX_EXPIRES_IN_DAYS,
                   "description": "The key sends for this many days; without it, until revoked"}
WEBHOOK = obj({"id": ID, "url": {"type": "string"}, "created_at": TIMESTAMP})
WEBHOOK_URL = {"type": "string", "maxLength": 2000,
               "pattern": "^https?://[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?(/[!-~]*)?$"}
NEW_WEBHOOK = obj({"id": ID, "url": {"type": "string"},
                   "secret": {"type": "string", "description": "Signs each delivery; shown this once only"}})


def tenant_json(tenant: Tenant) -> dict[str, Any]:
    return {"id": tenant.id, "name": tenant.name, "status": tenant.status,
            "pool": tenant.pool.name if tenant.pool else None, "created_at": timestamp(tenant.created_at),
            "limits": {limit.name: tenant.limits.get(limit.name) for limit in LIMITS},
            "once_per_message_id": tenant.once_per_message_id, "archive_days": tenant.archive_days,
            "archive_max_mib": tenant.archive_max_mib}


@operation("GET", "/tenants", "List tenants (a tenant user sees its own)", tag="tenants",
           result=listing(TENANT), query=(SEARCH, PAGE))
def list_tenants(q: str = "", page: int = 1) -> dict[str, Any]:
    query = select(Tenant).where(tenant_scope(Tenant.id)).order_by(Tenant.name)
    if q.strip():
        query = query.where(Tenant.name.contains(q.strip(), autoescape=True))
    found = paginate(query, number=page)
    return {"items": [tenant_json(t) for t in found.items], "page": found.number, "has_next": found.has_next}


@operation("POST", "/tenants", "Create a tenant", tag="tenants", result=TENANT, status=201,
           body=obj({"name": {"type": "string", "pattern": patterns.TENANT}}), errors=(409,),
           admin_only=True)
def create_tenant(body: dict[str, Any]) -> dict[str, Any]:
    return tenant_json(tenants.add_tenant(db(), body["name"]))


@operation("GET", "/tenants/{tenant_id}", "A tenant", tag="tenants", result=TENANT)
def get_tenant(tenant_id: int) -> dict[str, Any]:
    return tenant_json(visible_tenant(tenant_id))


@operation("PATCH", "/tenants/{tenant_id}", "Change a tenant's limits (null: the box default; 0: none) "
           "or its IP pool (null: the default pool)", tag="tenants", result=TENANT, body=CHANGES,
           admin_only=True)
def change_tenant(tenant_id: int, body: dict[str, Any]) -> dict[str, Any]:
    tenant = visible_tenant(tenant_id)
    use_cases.change_tenant(tenant, {k: v for k, v in body.items() if k in BY_NAME},
                            body.get("pool", Keep.POOL))
    return tenant_json(tenant)


@operation("PUT", "/tenants/{tenant_id}/once-per-message-id", "Send each Message-ID once within the box's "
           "window (a resubmission is answered 'already queued'), or every message", tag="tenants",
           result=TENANT, body=obj({"enabled": {"type": "boolean"}}, required=("enabled",)))
def set_once_per_message_id(tenant_id: int, body: dict[str, Any]) -> dict[str, Any]:
    tenant = visible_tenant(tenant_id)
    tenants.set_once_per_message_id(db(), tenant.name, body["enabled"])
    return tenant_json(tenant)


@operation("POST", "/tenants/{tenant_id}/pause", "Pause a tenant: its mail is refused with 4.7.x",
           tag="tenants", result=TENANT, admin_only=True)
def pause_tenant(tenant_id: int) -> dict[str, Any]:
    tenant = visible_tenant(tenant_id)
    reputation.pause(db(), tenant, f"paused by {user().username} through the API")
    return tenant_json(tenant)


@operation("POST", "/tenants/{tenant_id}/resume", "Let a paused tenant send again", tag="tenants",
           result=TENANT, admin_only=True)
def resume_tenant(tenant_id: int) -> dict[str, Any]:
    tenant = visible_tenant(tenant_id)
    reputation.resume(db(), tenant)
    return tenant_json(tenant)


@operation("GET", "/tenants/{tenant_id}/credentials", "A tenant's SMTP credentials", tag="tenants",
           result=items(CREDENTIAL))
def list_credentials(tenant_id: int) -> dict[str, Any]:
    tenant = visible_tenant(tenant_id)
    found = db().scalars(select(SmtpCredential).where(SmtpCredential.tenant_id == tenant.id)
                         .order_by(SmtpCredential.id))
    return {"items": [{"id": c.id, "username": c.username, "created_at": timestamp(c.created_at),
                       "revoked_at": timestamp(c.revoked_at)} for c in found]}


@operation("POST", "/tenants/{tenant_id}/credentials", "A new SMTP credential; its secret is shown once",
           tag="tenants", result=NEW_CREDENTIAL, status=201)
def create_credential(tenant_id: int) -> dict[str, Any]:
    tenant = visible_tenant(tenant_id)
    made = tenants.add_credential(db(), tenant.name)
    db().flush()
    credential = db().scalar(select(SmtpCredential).where(SmtpCredential.username == made.username))
    assert credential is not None
    return {"id": credential.id, "username": made.username, "secret": made.secret}


@operation("DELETE", "/tenants/{tenant_id}/credentials/{credential_id}", "Revoke an SMTP credential",
           tag="tenants", result=None, status=204)
def revoke_credential(tenant_id: int, credential_id: int) -> None:
    tenant = visible_tenant(tenant_id)
    tenants.revoke_credential(db(), tenant_credential(tenant, credential_id).username)


def _send_key_json(key: SendKey) -> dict[str, Any]:
    return {"id": key.id, "name": key.name, "created_at": timestamp(key.created_at),
            "expires_at": timestamp(key.expires_at), "revoked_at": timestamp(key.revoked_at),
            "state": send_keys.state(key)}


@operation("GET", "/tenants/{tenant_id}/send-keys", "A tenant's keys for the HTTP send API", tag="tenants",
           result=items(SEND_KEY))
def list_send_keys(tenant_id: int) -> dict[str, Any]:
    return {"items": [_send_key_json(k) for k in send_keys.send_keys(db(), visible_tenant(tenant_id).name)]}


@operation("POST", "/tenants/{tenant_id}/send-keys", "A new send key (it can only send, as the tenant); "
           "the key is shown once", tag="tenants", result=NEW_SEND_KEY, status=201,
           body=obj({"name": text(128), "expires_in_days": EXPIRES_IN_DAYS}, required=()))
def create_send_key(tenant_id: int, body: dict[str, Any]) -> dict[str, Any]:
    key, secret = send_keys.new_send_key(db(), visible_tenant(tenant_id).name, body.get("name", ""),
                                         body.get("expires_in_days"))
    return {"id": key.id, "name": key.name, "expires_at": timestamp(key.expires_at), "key": secret}


@operation("DELETE", "/tenants/{tenant_id}/send-keys/{key_id}", "Revoke a send key", tag="tenants",
           result=None, status=204)
def revoke_send_key(tenant_id: int, key_id: int) -> None:
    send_keys.revoke_send_key(db(), visible_tenant(tenant_id).name, key_id)


@operation("GET", "/tenants/{tenant_id}/webhooks", "A tenant's webhooks", tag="tenants",
           result=items(WEBHOOK))
def list_webhooks(tenant_id: int) -> dict[str, Any]:
    tenant = visible_tenant(tenant_id)
    return {"items": [{"id": w.id, "url": w.url, "created_at": timestamp(w.created_at)}
                      for w in webhooks.list_webhooks(db(), tenant.name)]}


@operation("POST", "/tenants/{tenant_id}/webhooks", "Add a webhook; its signing secret is shown once",
           tag="tenants", result=NEW_WEBHOOK, status=201, body=obj({"url": WEBHOOK_URL}), errors=(422,))
def create_webhook(tenant_id: int, body: dict[str, Any]) -> dict[str, Any]:
    tenant = visible_tenant(tenant_id)
    webhook, secret = webhooks.add_webhook(db(), panel().secret_box, panel().settings.webhooks, tenant.name,
                                           body["url"])
    return {"id": webhook.id, "url": webhook.url, "secret": secret}


@operation("DELETE", "/tenants/{tenant_id}/webhooks/{webhook_id}", "Remove a webhook", tag="tenants",
           result=None, status=204)
def remove_webhook(tenant_id: int, webhook_id: int) -> None:
    tenant = visible_tenant(tenant_id)
    webhooks.remove_webhook(db(), tenant_webhook(tenant, webhook_id).id)
