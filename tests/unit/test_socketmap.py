"""The intake's socketmap, spoken to as Postfix's socketmap client speaks (socketmap_table(5))."""

from __future__ import annotations

import asyncio
from pathlib import Path

from intake.socketmap import netstring, serve_socketmap


async def _ask(path: Path, *requests: bytes) -> bytes:
    reader, writer = await asyncio.open_unix_connection(str(path))
    for request in requests:
        writer.write(request)
    await writer.drain()
    writer.write_eof()
    answer = await reader.read()
    writer.close()
    return answer


def test_it_answers_for_return_path_domains_in_use_and_drops_malformed_requests(tmp_path: Path) -> None:
    async def scenario() -> None:
        path = tmp_path / "socketmap.sock"
        server = await serve_socketmap(
            path, lambda address: "OK" if address.lower().endswith("@rp.example.com") else None)
        try:
            good = await _ask(path, netstring("inbound_recipients b.x@RP.example.com"),
                              netstring("inbound_recipients b.x@rp.other.com"),
                              netstring("other_map a@b.co"))
            assert good == b"5:OK OK,9:NOTFOUND ,26:PERM no such map other_map,"
            for malformed in (b"99999999999:x,", b"5:abcdefgh", b"x:abc,", b"3:abc;"):
                assert await _ask(path, malformed, netstring("inbound_recipients a@b.co")) == b""
        finally:
            server.close()
            await server.wait_closed()
    asyncio.run(scenario())
