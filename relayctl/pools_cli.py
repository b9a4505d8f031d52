"""relayctl pool ...: IP pools, their addresses, weights, states and warm-up, and tenants' pools.

Every change of addresses re-renders the Postfix instance's delivery transports and
reloads Postfix when it runs; the milter picks the change up from the directory.
"""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy.orm import Session

from core import pools
from core.config import Settings
from core.domain_verify import make_resolver
from core.ip_checks import check_ip
from core.postfix.transports import transport_name
from core.states import PoolIpState
from relayctl.database import session_command, session_command_then_rerender


@session_command
def cmd_pool_add(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    print(f"pool {pools.add_pool(session, args.name).name} added")
    return 0


@session_command
def cmd_pool_list(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    print(f"{'POOL':<16} {'ADDRESS':<40} {'STATE':<8} {'WEIGHT':>6} {'CAP TODAY':>9}  HELO")
    for name, pool in pools.pools_by_name(session).items():
        shown = [ip for ip in pool.ips if ip.state != PoolIpState.REMOVED]
        if not shown:
            empty = "(the box's own address)" if pool.is_default else "(empty: its tenants get 451)"
            print(f"{name:<16} {empty}")
        for ip in shown:
            cap = pools.warmup_cap(ip)
            print(f"{name:<16} {ip.address:<40} {ip.state:<8} {ip.weight:>6} "
                  f"{'-' if cap is None else cap:>9}  {ip.helo_name}"
                  f"{'  (' + ip.paused_reason + ')' if ip.paused_reason else ''}"
                  f"{'  warm-up: ' + ip.warmup_note if ip.warmup_note else ''}")
    return 0


@session_command_then_rerender
def cmd_ip_add(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    caps = pools.parse_caps(args.warmup) if args.warmup else None
    ip = pools.add_ip(session, args.pool, args.address, args.helo, args.weight, caps)
    print(f"{ip.address} added to pool {args.pool} as {transport_name(ip.address)} ({ip.state})")
    return 0


@session_command
def cmd_ip_weight(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    pools.set_weight(session, args.address, args.weight)
    print(f"{args.address}: weight {args.weight}")
    return 0


@session_command
def cmd_ip_pause(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    pools.pause_ip(session, args.address, args.reason)
    print(f"{args.address} paused: it sends nothing until resumed")
    return 0


@session_command
def cmd_ip_resume(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    print(f"{args.address} {pools.resume_ip(session, args.address).state}")
    return 0


@session_command_then_rerender
def cmd_ip_remove(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    pools.remove_ip(session, args.address)
    print(f"{args.address} removed; mail already queued for it is still delivered")
    return 0


@session_command
def cmd_pool_assign(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    pools.assign_tenant(session, args.tenant, args.pool)
    print(f"tenant {args.tenant} sends from pool {args.pool}")
    return 0


@session_command
def cmd_pool_check(settings: Settings, session: Session, args: argparse.Namespace) -> int:
    resolver = make_resolver(settings)
    problems = 0
    for ip in pools.sending_ips(session):
        if args.address and ip.address != args.address:
            continue
        check = check_ip(resolver, ip.address, ip.helo_name, settings.dns.blocklists)
        pools.record_check(session, check)
        fcrdns = "ok" if check.fcrdns_ok else f"NO (PTR: {', '.join(check.ptr_names) or 'none'})"
        listed = ", ".join(check.listed_on) or "none"
        print(f"{ip.address:<40} FCrDNS for {ip.helo_name}: {fcrdns}; listed on: {listed}"
              f"{'; PAUSED' if check.listed_on else ''}")
        problems += (not check.fcrdns_ok) + bool(check.listed_on)
    return 1 if problems else 0


def add_pool_commands(commands: Any) -> None:
    pool = commands.add_parser("pool", help="IP pools and their outbound addresses").add_subparsers(
        dest="action", required=True)
    add = pool.add_parser("add", help="a new (dedicated) pool; 'default' always exists")
    add.add_argument("name")
    add.set_defaults(func=cmd_pool_add)
    pool.add_parser("list", help="pools, addresses, states, weights, today's warm-up caps"
                    ).set_defaults(func=cmd_pool_list)
    add_ip = pool.add_parser("add-ip", help="an outbound address (it must be on this box)")
    add_ip.add_argument("pool")
    add_ip.add_argument("address")
    add_ip.add_argument("--helo", required=True, help="its HELO name, which its PTR should name")
    add_ip.add_argument("--weight", type=int, default=100)
    add_ip.add_argument("--warmup", default="", help="daily caps from today, e.g. 50,100,200,400")
    add_ip.set_defaults(func=cmd_ip_add)
    weight = pool.add_parser("weight", help="an address's share of its pool's mail")
    weight.add_argument("address")
    weight.add_argument("weight", type=int)
    weight.set_defaults(func=cmd_ip_weight)
    pause = pool.add_parser("pause", help="stop sending from an address")
    pause.add_argument("address")
    pause.add_argument("--reason", default="paused by the operator")
    pause.set_defaults(func=cmd_ip_pause)
    resume = pool.add_parser("resume")
    resume.add_argument("address")
    resume.set_defaults(func=cmd_ip_resume)
    remove = pool.add_parser("remove-ip")
    remove.add_argument("address")
    remove.set_defaults(func=cmd_ip_remove)
    check = pool.add_parser("check", help="FCrDNS and blocklists of each address; listed ones are paused")
    check.add_argument("address", nargs="?", default="")
    check.set_defaults(func=cmd_pool_check)
    assign = pool.add_parser("assign", help="the pool a tenant sends from")
    assign.add_argument("tenant")
    assign.add_argument("pool")
    assign.set_defaults(func=cmd_pool_assign)
