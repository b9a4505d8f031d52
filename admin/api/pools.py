"""API (admins): IP pools, their addresses, weights, warm-up and states."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from admin import patterns
from admin.api.registry import ApiError, operation
from admin.api.schemas import ID, TIMESTAMP, items, nullable, obj, text, timestamp
from admin.database import db
from admin.use_cases import pool_address, pool_by_id, transports_changed
from core import pools
from core.errors import PostfixError
from core.models import IpPool, PoolIp
from core.states import PoolIpState

IP = obj({"id": ID, "address": {"type": "string"}, "helo_name": {"type": "string"},
          "weight": {"type": "integer"}, "state": {"enum": list(PoolIpState)},
          "paused_reason": {"type": "string"}, "warmup_caps": {"type": "array", "items": {"type": "integer"}},
          "warmup_cap_today": nullable({"type": "integer"}),
          "warmup_step": {"type": "integer", "description": "the cap in force, from 0"},
          "warmup_note": {"type": "string", "description": "why the warm-up moved on, held or stepped back"},
          "fcrdns_ok": {"type": "boolean"},
          "listed_on": {"type": "array", "items": {"type": "string"}},
          "last_checked_at": nullable(TIMESTAMP)})
POOL = obj({"id": ID, "name": {"type": "string"}, "is_default": {"type": "boolean"},
            "ips": {"type": "array", "items": IP}})
WEIGHT = {"type": "integer", "minimum": 1, "maximum": 1000}
NEW_IP = obj({"address": {"type": "string", "maxLength": 45,
                          "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]},
              "helo_name": {"type": "string", "maxLength": patterns.DOMAIN_MAX, "pattern": patterns.DOMAIN},
              "weight": WEIGHT,
              "warmup_caps": {"type": "array", "maxItems": 365,
                              "items": {"type": "integer", "minimum": 1, "maximum": 10_000_000}}},
             required=("address", "helo_name"))


def ip_json(ip: PoolIp) -> dict[str, Any]:
    return {"id": ip.id, "address": ip.address, "helo_name": ip.helo_name, "weight": ip.weight,
            "state": ip.state, "paused_reason": ip.paused_reason,
            "warmup_caps": pools.parse_caps(ip.warmup_caps) if ip.warmup_caps else [],
            "warmup_cap_today": pools.warmup_cap(ip), "warmup_step": ip.warmup_step,
            "warmup_note": ip.warmup_note, "fcrdns_ok": ip.fcrdns_ok,
            "listed_on": [name for name in ip.listed_on.split(",") if name],
            "last_checked_at": timestamp(ip.last_checked_at)}


def pool_json(pool: IpPool) -> dict[str, Any]:
    return {"id": pool.id, "name": pool.name, "is_default": pool.is_default,
            "ips": [ip_json(ip) for ip in pool.ips]}


def _transports_changed() -> None:
    try:
        transports_changed()
    except PostfixError as exc:
        raise ApiError(503, f"saved, but Postfix was not reconfigured: {exc}; "
                            "run `relayctl init` on the box") from exc


@operation("GET", "/pools", "IP pools with their addresses", tag="pools", result=items(POOL), admin_only=True)
def list_pools() -> dict[str, Any]:
    found = db().scalars(select(IpPool).order_by(IpPool.is_default.desc(), IpPool.name))
    return {"items": [pool_json(p) for p in found]}


@operation("POST", "/pools", "Create an IP pool", tag="pools", result=POOL, status=201, admin_only=True,
           body=obj({"name": {"type": "string", "pattern": patterns.POOL}}), errors=(409,))
def create_pool(body: dict[str, Any]) -> dict[str, Any]:
    return pool_json(pools.add_pool(db(), body["name"]))


@operation("POST", "/pools/{pool_id}/ips", "Add an address to a pool (with warm-up caps per day, if given); "
           "Postfix gets its transport at once", tag="pools", result=IP, status=201, admin_only=True,
           body=NEW_IP, errors=(409, 422, 503))
def add_ip(pool_id: int, body: dict[str, Any]) -> dict[str, Any]:
    ip = pools.add_ip(db(), pool_by_id(pool_id).name, body["address"], body["helo_name"],
                      body.get("weight", 100),
                      body.get("warmup_caps") or None)
    _transports_changed()
    return ip_json(ip)


@operation("PATCH", "/ips/{ip_id}", "Change an address's weight", tag="pools", result=IP, admin_only=True,
           body=obj({"weight": WEIGHT}))
def change_ip(ip_id: int, body: dict[str, Any]) -> dict[str, Any]:
    return ip_json(pools.set_weight(db(), pool_address(ip_id).address, body["weight"]))


@operation("POST", "/ips/{ip_id}/pause", "Stop sending from an address", tag="pools", result=IP,
           admin_only=True, body=obj({"reason": text(200)}, required=()))
def pause_ip(ip_id: int, body: dict[str, Any]) -> dict[str, Any]:
    reason = body.get("reason") or "paused through the API"
    return ip_json(pools.pause_ip(db(), pool_address(ip_id).address, reason))


@operation("POST", "/ips/{ip_id}/resume", "Send from a paused address again", tag="pools", result=IP,
           admin_only=True)
def resume_ip(ip_id: int) -> dict[str, Any]:
    return ip_json(pools.resume_ip(db(), pool_address(ip_id).address))


@operation("DELETE", "/ips/{ip_id}", "Remove an address: it sends no new mail; mail queued for it still "
           "leaves", tag="pools", result=None, status=204, admin_only=True, errors=(503,))
def remove_ip(ip_id: int) -> None:
    pools.remove_ip(db(), pool_address(ip_id).address)
    _transports_changed()
