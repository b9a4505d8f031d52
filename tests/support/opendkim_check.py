"""opendkim-testmsg as an independent DKIM verifier, for Ed25519 which this Debian's Mail::DKIM lacks.

libopendkim looks keys up through the system resolver, which cannot be pointed at
another port; so the check runs in a network and mount namespace of its own,
where /etc/resolv.conf names 127.0.0.1 and a LoopbackDns answers on port 53.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

_SERVE = """
import json, sys, time
from tests.support.dns_server import LoopbackDns
server = LoopbackDns(port=53)
for name, value in json.load(open(sys.argv[1])).items():
    server.add(name, "TXT", value)
server.start()
open(sys.argv[2], "w").close()
time.sleep(120)
"""

_SCRIPT = """
set -e
ip link set lo up
mount --bind "$TMP/resolv.conf" /etc/resolv.conf
"$PYTHON" -c "$SERVE" "$TMP/records.json" "$TMP/ready" &
server=$!
for _ in $(seq 100); do [ -e "$TMP/ready" ] && break; sleep 0.05; done
for message in "$TMP"/message.*; do
    status=0
    opendkim-testmsg < "$message" > "$message.said" 2>&1 || status=$?
    echo $status > "$message.status"
done
kill $server
"""


def opendkim_verifies(message: bytes, txt_records: dict[str, str]) -> tuple[bool, str]:
    """Whether opendkim-testmsg accepts the message's signature, and what it said."""
    return opendkim_verifies_each([message], txt_records)[0]


def opendkim_verifies_each(messages: list[bytes], txt_records: dict[str, str]) -> list[tuple[bool, str]]:
    """opendkim_verifies for several messages, in one namespace."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "resolv.conf").write_text("nameserver 127.0.0.1\n")
        (folder / "records.json").write_text(json.dumps(txt_records))
        for index, message in enumerate(messages):
            (folder / f"message.{index:05d}").write_bytes(message)
        result = subprocess.run(
            ["unshare", "--net", "--mount", "bash", "-c", _SCRIPT], cwd=REPO, capture_output=True, text=True,
            timeout=60 + len(messages), check=False,
            env={"TMP": tmp, "PYTHON": sys.executable, "SERVE": _SERVE, "PYTHONPATH": str(REPO),
                 "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return [((folder / f"message.{i:05d}.status").read_text().strip() == "0",
                 (folder / f"message.{i:05d}.said").read_text().strip()) for i in range(len(messages))]
