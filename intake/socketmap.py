"""Postfix's socketmap protocol (socketmap_table(5)): port 25's recipients, judged live.

Port 25 relays only to the box's own domains. The return-path domains (core/return_paths.py)
change whenever a tenant publishes or withdraws its rp. record, on every box at once; a
table Postfix reads from a file would need a reload on each box, so the inbound smtpd
asks the intake (check_recipient_access), which knows them from its directory, and which
also refuses at RCPT a mailto unsubscribe address whose token is no token, rather than
bounce it later to a sender who may be forged. Only the inbound smtpd asks, so nothing
else of Postfix waits on the intake.

The protocol is a netstring request "<map name> <key>" and a netstring reply; no library
for it fits an asyncio server, and it takes a few lines.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from core.postfix.instance import INBOUND_RECIPIENT_MAP
from core.unix_sockets import give_to_postfix, prepare_socket_path

log = logging.getLogger(__name__)

# Postfix's own limit for a socketmap reply is 100,000 octets; a request is a map name and a key.
MAX_REQUEST = 1024


def netstring(text: str) -> bytes:
    data = text.encode()
    return b"%d:%s," % (len(data), data)


async def read_netstring(reader: asyncio.StreamReader) -> str | None:
    """One request; None at the end of the connection. ValueError for a malformed one."""
    try:
        length = await reader.readuntil(b":")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError as exc:
        raise ValueError("netstring length too long") from exc
    digits = length[:-1]
    if not digits.isdigit() or int(digits) > MAX_REQUEST:
        raise ValueError("bad netstring length")
    data = await reader.readexactly(int(digits) + 1)
    if data[-1:] != b",":
        raise ValueError("netstring without its comma")
    return data[:-1].decode("utf-8", "replace")


def answer(request: str, action: Callable[[str], str | None]) -> str:
    """action: the access(5) action for a recipient address, None for no verdict."""
    name, _, key = request.partition(" ")
    if name != INBOUND_RECIPIENT_MAP:
        return f"PERM no such map {name[:64]}"
    # Postfix asks a socketmap, as it asks a pattern table, with the whole recipient address only.
    verdict = action(key)
    return "NOTFOUND " if verdict is None else f"OK {verdict}"


async def serve_socketmap(path: Path, action: Callable[[str], str | None]) -> asyncio.Server:
    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while (request := await read_netstring(reader)) is not None:
                writer.write(netstring(answer(request, action)))
                await writer.drain()
        except (ValueError, asyncio.IncompleteReadError, ConnectionError) as exc:
            log.warning("socketmap client dropped: %s", exc)
        except asyncio.CancelledError:
            # The intake is stopping; Postfix asks again, on a new connection, when it is back.
            pass
        finally:
            writer.close()

    prepare_socket_path(path)
    server = await asyncio.start_unix_server(client, str(path))
    give_to_postfix(path)
    return server
