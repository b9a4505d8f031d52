"""API (admins): the Postfix queue."""

from __future__ import annotations

from typing import Any

from admin.api.registry import operation
from admin.api.schemas import TIMESTAMP, Param, items, obj, text, timestamp
from admin.context import panel
from core.postfix.queue import ACTIONS, QUEUE_ID

QUEUED = obj({"queue_id": {"type": "string"}, "queue": {"type": "string"}, "arrived": TIMESTAMP,
              "size": {"type": "integer"}, "sender": {"type": "string"},
              "recipients": {"type": "array", "items": obj({"address": {"type": "string"},
                                                            "delay_reason": {"type": "string"}})}})
ACTION = obj({"action": {"enum": list(ACTIONS)},
              "queue_ids": {"type": "array", "minItems": 1, "maxItems": 1000,
                            "items": {"type": "string", "pattern": QUEUE_ID.pattern}}})


@operation("GET", "/queue", "Messages in the Postfix queue (up to 500)", tag="queue", result=items(QUEUED),
           query=(Param("q", text(320), "Queue id, sender or recipient containing this"),), errors=(503,),
           admin_only=True)
def list_queue(q: str = "") -> dict[str, Any]:
    search = q.strip().lower()
    found = [m for m in panel().queue.messages()
             if not search or search in m.queue_id.lower() or search in m.sender.lower()
             or any(search in address.lower() for address, _why in m.recipients)]
    return {"items": [{"queue_id": m.queue_id, "queue": m.queue, "arrived": timestamp(m.arrived),
                       "size": m.size, "sender": m.sender,
                       "recipients": [{"address": a, "delay_reason": why} for a, why in m.recipients]}
                      for m in found]}


@operation("POST", "/queue/actions", "Hold, release, requeue or delete messages by queue id", tag="queue",
           result=obj({"action": {"type": "string"}, "count": {"type": "integer"}}), body=ACTION,
           errors=(503,), admin_only=True)
def act_on_queue(body: dict[str, Any]) -> dict[str, Any]:
    panel().queue.act(body["action"], body["queue_ids"])
    return {"action": body["action"], "count": len(body["queue_ids"])}


@operation("POST", "/queue/flush", "Retry the deferred mail now", tag="queue", result=obj({}), status=202,
           errors=(503,), admin_only=True)
def flush_queue() -> dict[str, Any]:
    panel().queue.flush()
    return {}
