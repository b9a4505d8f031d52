"""relayctl queue ...: the Postfix instance's queue, and the root helper that changes it for the
services that are not root (core.postfix.queue_helper)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from core.config import Settings
from core.postfix.instance import PostfixInstance
from core.postfix.queue import ACTIONS, PostfixQueue
from core.postfix.queue_helper import serve_queue_request


def _queue(settings: Settings, through_helper: bool = True) -> PostfixQueue:
    return PostfixInstance(settings).queue(through_helper)


def cmd_queue_list(settings: Settings, args: argparse.Namespace) -> int:
    for message in _queue(settings).messages():
        print(f"{message.queue_id:<20} {message.queue:<9} {message.arrived:%Y-%m-%d %H:%M:%S} "
              f"{message.size:>9} {message.sender or '<>'}")
        for address, why in message.recipients:
            print(f"    {address}{'  (' + why + ')' if why else ''}")
    return 0


def cmd_queue_act(settings: Settings, args: argparse.Namespace) -> int:
    _queue(settings).act(args.verb, args.queue_ids)
    print(f"{args.verb}: {len(args.queue_ids)} message(s)")
    return 0


def cmd_queue_flush(settings: Settings, args: argparse.Namespace) -> int:
    _queue(settings).flush()
    return 0


def cmd_queue_helper(settings: Settings, args: argparse.Namespace) -> int:
    """Run by the socket unit as root, once per connection: the connection is stdin and stdout."""
    serve_queue_request(sys.stdin.buffer, sys.stdout.buffer, _queue(settings, through_helper=False).act)
    return 0


def add_queue_commands(commands: Any) -> None:
    queue = commands.add_parser("queue", help="the Postfix instance's queue").add_subparsers(
        dest="action", required=True)
    queue.add_parser("list", help="queued messages and why they wait").set_defaults(func=cmd_queue_list)
    for verb in ACTIONS:
        act = queue.add_parser(verb, help=f"{verb} messages by queue id")
        act.add_argument("queue_ids", nargs="+", metavar="queue_id")
        act.set_defaults(func=cmd_queue_act, verb=verb)
    queue.add_parser("flush", help="retry the deferred mail now").set_defaults(func=cmd_queue_flush)
    commands.add_parser("queue-helper", help="(for its systemd socket unit) one queue request from "
                        "a service that is not root").set_defaults(func=cmd_queue_helper)
