"""relayctl backup on one box, restore on a fresh one: the fresh box sends with the first box's
credentials, send keys and DKIM keys (Mail::DKIM verifies against the DNS published for the first).
A restore never replaces tenants unasked, and a file that is no backup is refused clearly."""

from __future__ import annotations

import json
import os
import stat
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from core import send_keys
from relayctl.cli import main as relayctl
from tests.integration.test_milter import publish_keys, verify
from tests.integration.test_send_api import post, raw
from tests.support.box import (
    DOMAIN,
    TENANT,
    Box,
    box_config,
    box_root,
    destroy_box,
    message,
    reset_postgres,
    running_box,
    send_api_service,
)
from tests.support.dns_server import LoopbackDns
from tests.support.sink import Sink
from tests.support.waiting import eventually


def dns_settings(dns: LoopbackDns) -> dict[str, object]:
    return {"nameservers": ["127.0.0.1"], "nameserver_port": dns.port}


@contextmanager
def fresh_box(sink: Sink, dns: LoopbackDns) -> Iterator[Box]:
    """A box after `relayctl init` alone: its own new encryption key, no tenants."""
    with box_root() as root:
        config = box_config(root / "state", sink.port, dns=dns_settings(dns))
        (root / "relay.yaml").write_text(yaml.safe_dump(config))
        box = Box(root, sink)
        if box.settings.database_url.startswith("postgresql"):
            reset_postgres(box.settings.database_url)
        assert relayctl(["--config", str(box.config_path), "init"]) == 0
        try:
            yield box
        finally:
            destroy_box(box)


def test_a_backup_restores_on_a_fresh_box_that_sends_with_the_same_keys(
        sink: Sink, dns: LoopbackDns, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    saved = tmp_path / "relay.backup"
    with running_box(sink, dns=dns_settings(dns)) as first:
        publish_keys(first, dns, DOMAIN)  # the DNS keeps the first box's DKIM keys
        with first.db_session() as session:
            send_key = send_keys.new_send_key(session, TENANT, "app")[1]
        with first.client() as client:
            client.sendmail(f"app@{DOMAIN}", ["reader@example.org"], message("before the backup"))
        sink.wait_for_subject("before the backup")
        assert relayctl(["--config", str(first.config_path), "backup", str(saved)]) == 0
        credential = (first.username, first.password)
        old_key = first.settings.effective_encryption_key_file.read_bytes()
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    with tarfile.open(saved) as archive:
        manifest = json.loads(archive.extractfile("manifest.json").read())  # type: ignore[union-attr]
        assert manifest["rows"]["tenants"] == 2 and manifest["rows"]["send_keys"] == 1
        assert send_key.encode() not in b"".join(archive.extractfile(m).read()  # type: ignore[union-attr]
                                                 for m in archive.getmembers() if m.isfile())

    with fresh_box(sink, dns) as second:
        assert second.settings.effective_encryption_key_file.read_bytes() != old_key
        capsys.readouterr()
        assert relayctl(["--config", str(second.config_path), "restore", str(saved)]) == 0
        assert "restored the backup of relay.test" in capsys.readouterr().out
        assert second.settings.effective_encryption_key_file.read_bytes() == old_key
        assert stat.S_IMODE(second.settings.effective_encryption_key_file.stat().st_mode) == 0o600
        assert (second.root / "relay.yaml.restored").exists()
        second.username, second.password = credential
        second.instance.start_or_reload()
        second.start_intake()
        second.start_milter()
        second.start_front_end()
        with second.client() as client:
            client.sendmail(f"app@{DOMAIN}", ["reader@example.org"], message("after the restore"))
        received = sink.wait_for_subject("after the restore")[0]
        assert verify(second, dns, received)[-1] == "RESULT pass"
        with send_api_service(second):
            eventually(lambda: post(second, send_key, raw("restored, over http"))[0] == 200,
                       "a send with the restored send key")
        assert verify(second, dns, sink.wait_for_subject("restored, over http")[0])[-1] == "RESULT pass"

        # Once restored, the box has tenants: another restore replaces nothing unless forced.
        capsys.readouterr()
        assert relayctl(["--config", str(second.config_path), "restore", str(saved)]) == 2
        assert "has tenants" in capsys.readouterr().err


@pytest.mark.parametrize("content, error", [
    (b"not a tar at all", "cannot read the backup"),
    (b"", "cannot read the backup"),
])
def test_a_file_that_is_no_backup_is_refused_and_changes_nothing(
        sink: Sink, dns: LoopbackDns, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes,
        error: str) -> None:
    bad = tmp_path / "bad.backup"
    bad.write_bytes(content)
    with fresh_box(sink, dns) as box:
        key = box.settings.effective_encryption_key_file.read_bytes()
        capsys.readouterr()
        assert relayctl(["--config", str(box.config_path), "restore", str(bad)]) == 2
        assert error in capsys.readouterr().err
        assert box.settings.effective_encryption_key_file.read_bytes() == key


def test_a_tar_without_a_manifest_is_no_backup(sink: Sink, dns: LoopbackDns, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.tar.gz"
    with tarfile.open(other, "w:gz") as archive:
        archive.add(os.devnull, arcname="database/tenants.jsonl")
    with fresh_box(sink, dns) as box:
        capsys.readouterr()
        assert relayctl(["--config", str(box.config_path), "restore", str(other)]) == 2
        assert "not a relay backup" in capsys.readouterr().err
