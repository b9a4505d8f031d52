"""The playbook provisions a fresh Debian bookworm box for real (debootstrapped, booted with
systemd-nspawn, reached over SSH in a network namespace of the test's own); a tenant made on
the box sends through its front-end, the message reaches a fake MX signed and from the pool
address; a second run of the playbook changes nothing."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path

import pytest

from tests.provisioning.conftest import (
    REPO,
    directory_loaded,
    failure_report,
    make_tenant,
    new_encryption_key,
    playbook,
    swaks,
    tail,
    wheelhouse,
    write_inventory,
    write_vault,
)
from tests.support.dns_server import LoopbackDns
from tests.support.nspawn import GATEWAY, SUBNET, DebianBox, Lan, debian_boxes
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(1800)  # booting and provisioning take minutes

RELAY = f"{SUBNET}.11"
POOL_ADDRESS = f"{SUBNET}.21"
MX_PORT = 2525
VERIFIER = REPO / "tests" / "support" / "dkim_verify.pl"


@pytest.fixture(scope="module")
def provisioned() -> Iterator[tuple[Lan, DebianBox, Path]]:
    with debian_boxes([("relay1", RELAY)]) as (network, (box,), workdir):
        vault, password_file = write_vault(workdir, {"vault_relay_encryption_key": new_encryption_key()})
        inventory = write_inventory(workdir, workdir / "id_ed25519", {"all": {
            "vars": {
                "relay_wheelhouse": str(wheelhouse(workdir)),
                "relay_encryption_key": "{{ vault_relay_encryption_key }}",
                "relay_relayhost": f"[{GATEWAY}]:{MX_PORT}",
                "base_admin_networks": [f"{SUBNET}.0/24"],
                "base_app_networks": [f"{SUBNET}.0/24"],
            },
            "children": {
                "relay": {"hosts": {"relay1": {
                    "ansible_host": RELAY, "relay_hostname": "relay1.test",
                    "pool_ips_interface": box.interface,
                    "pool_ips_addresses": [{"address": POOL_ADDRESS, "prefix": 24, "pool": "default",
                                            "helo_name": "out1.relay1.test"}]}}},
                "database": {"hosts": {}},
            }}})
        first_log = workdir / "first-run.log"
        code, _changed = playbook(network, inventory, vault, password_file, first_log)
        assert code == 0, failure_report(first_log, [box])
        second_log = workdir / "second-run.log"
        code, changed = playbook(network, inventory, vault, password_file, second_log)
        (workdir / "second-run.changed").write_text(json.dumps(changed))
        assert code == 0, failure_report(second_log, [box])
        yield network, box, workdir


def test_a_second_run_of_the_playbook_changes_nothing(provisioned: tuple[Lan, DebianBox, Path]) -> None:
    _network, _box, workdir = provisioned
    changed = json.loads((workdir / "second-run.changed").read_text())
    assert changed and set(changed.values()) == {0}, (changed, tail(workdir / "second-run.log"))


def test_every_service_runs_hardened_as_its_own_user(provisioned: tuple[Lan, DebianBox, Path]) -> None:
    _network, box, _workdir = provisioned
    for service in ("intake", "milter", "frontend", "panel", "links", "send_api"):
        shown = box.ssh(f"systemctl show mailrelay-{service} -p ActiveState -p User -p NoNewPrivileges "
                        "-p ProtectSystem -p Restart").stdout
        assert "ActiveState=active" in shown and "User=mailrelay" in shown, shown
        assert "NoNewPrivileges=yes" in shown and "ProtectSystem=strict" in shown, shown
        assert "Restart=on-failure" in shown, shown
    for unit in ("mailrelay-postfix", "mailrelay-queue-helper.socket", "mailrelay-postfix-reload.path"):
        assert "ActiveState=active" in box.ssh(f"systemctl show {unit} -p ActiveState").stdout, unit
    ruleset = box.ssh("nft list ruleset").stdout
    assert "policy drop" in ruleset and "tcp dport { 465, 587 }" in ruleset, ruleset
    # The panel answers through nginx with TLS only.
    page = box.ssh("python3 -c \"import http.client, ssl; c = http.client.HTTPSConnection('127.0.0.1', "
                   "context=ssl._create_unverified_context()); c.request('GET', '/'); r = c.getresponse(); "
                   "print(r.status, r.getheader('Location'))\"", check=False).stdout
    assert page.startswith("302") and "/login" in page, page
    # The send API answers through the same proxy, and wants a send key.
    send = box.ssh("python3 -c \"import http.client, ssl; c = http.client.HTTPSConnection('127.0.0.1', "
                   "context=ssl._create_unverified_context()); c.request('POST', '/api/v1/send/raw', '{}', "
                   "{'Content-Type': 'application/json'}); r = c.getresponse(); print(r.status, r.read())\"",
                   check=False).stdout
    assert send.startswith("401") and b"send key".decode() in send, send
    # The link service's tracked links too, from anywhere: a token it did not make is unknown.
    link = box.ssh("python3 -c \"import http.client, ssl; c = http.client.HTTPSConnection('127.0.0.1', "
                   "context=ssl._create_unverified_context()); c.request('GET', '/c/' + 'A' * 60); "
                   "r = c.getresponse(); print(r.status, r.read())\"", check=False).stdout
    assert link.startswith("404") and "not known" in link, link


def _dkim_record(box: DebianBox) -> tuple[str, str]:
    """The DKIM record's name and its value in zone syntax (strings of at most 255 octets)."""
    records = box.ssh("relayctl domain records acme.test").stdout
    name, value = re.findall(r"^(\S+_domainkey\.acme\.test)\. IN TXT (.+)$", records, re.M)[0]
    return name, value


def _wait_for_message(folder: Path, timeout: float = 120) -> Path:
    return eventually(lambda: sorted(folder.glob("*.eml")), "message at the fake MX", timeout, every=1.0)[0]


@pytest.fixture(scope="module")
def credential(provisioned: tuple[Lan, DebianBox, Path]) -> tuple[str, str]:
    made = make_tenant(provisioned[1])
    directory_loaded(provisioned[1])
    return made


def test_a_tenant_sends_through_the_front_end_and_the_mx_gets_it_signed(
        provisioned: tuple[Lan, DebianBox, Path], credential: tuple[str, str]) -> None:
    network, box, workdir = provisioned
    inbox = workdir / "mx"
    mx = network.popen(sys.executable, "-m", "tests.support.mx_process", GATEWAY, str(MX_PORT), str(inbox),
                       log=workdir / "mx.log")
    try:
        sent = swaks(network, RELAY, credential, "provisioned")
        journal = box.ssh("journalctl -u 'mailrelay-*' -n 40 --no-pager; "
                          "tail -n 20 /var/lib/mailrelay/postfix/log/postfix.log", check=False).stdout
        assert sent.returncode == 0, sent.stdout + sent.stderr + journal
        received = _wait_for_message(inbox)
    finally:
        mx.terminate()
        mx.wait(10)
    envelope = json.loads(received.with_suffix(".json").read_text())
    assert envelope["rcpt_tos"] == ["someone@example.org"]
    assert envelope["peer"] == POOL_ADDRESS  # it left from the pool's address
    content = received.read_bytes()
    message = message_from_bytes(content)
    assert message["Subject"] == "provisioned" and "d=acme.test" in message["DKIM-Signature"]
    name, value = _dkim_record(box)
    dns = LoopbackDns()
    dns.add(name, "TXT", value)
    dns.start()
    try:
        verdict = subprocess.run(["perl", str(VERIFIER), "127.0.0.1", str(dns.port)], input=content,
                                 capture_output=True, timeout=60, check=False).stdout.decode()
    finally:
        dns.stop()
    assert "RESULT pass" in verdict, verdict


def _panel_api(box: DebianBox, token: str, method: str, path: str, body: object = None) -> object:
    """A call of the panel's API through nginx on the box, as a script of the operator's would."""
    script = ("import http.client, json, ssl, sys\n"
              "c = http.client.HTTPSConnection('127.0.0.1', context=ssl._create_unverified_context())\n"
              f"c.request({method!r}, {path!r}, body={json.dumps(body)!r} if {body is not None} else None, "
              f"headers={{'Authorization': 'Bearer {token}', 'Content-Type': 'application/json'}})\n"
              "r = c.getresponse(); print(json.dumps({'status': r.status, 'body': json.loads(r.read())}))\n")
    encoded = base64.b64encode(script.encode()).decode()
    reply = json.loads(box.ssh(f"echo {encoded} | base64 -d | python3").stdout)
    assert reply["status"] < 300, reply
    return reply["body"]


def _queued(box: DebianBox) -> dict[str, str]:
    listing = box.ssh("postqueue -c /var/lib/mailrelay/postfix/conf -j").stdout
    return {item["queue_id"]: item["queue_name"] for item in map(json.loads, listing.splitlines())}


def test_the_panel_holds_and_deletes_queued_mail_through_the_root_helper(
        provisioned: tuple[Lan, DebianBox, Path], credential: tuple[str, str]) -> None:
    """postsuper is root's; the panel runs as the relay's user with NoNewPrivileges and asks the
    socket-activated queue helper. (The fake MX is gone: the message waits in the deferred queue.)"""
    network, box, _workdir = provisioned
    sent = swaks(network, RELAY, credential, "held")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    deferred = eventually(lambda: [q for q, name in _queued(box).items() if name == "deferred"],
                          "deferred message in the box's queue", timeout=60, every=1.0)
    box.ssh("RELAY_PANEL_PASSWORD=operator-password-1 relayctl user add ops --role admin")
    token = re.findall(r"rlt_\S+", box.ssh("relayctl user token ops --name provisioning-test").stdout)[0]
    listed = _panel_api(box, token, "GET", "/api/v1/queue")
    assert deferred[0] in json.dumps(listed)
    _panel_api(box, token, "POST", "/api/v1/queue/actions", {"action": "hold", "queue_ids": deferred})
    assert _queued(box)[deferred[0]] == "hold"
    _panel_api(box, token, "POST", "/api/v1/queue/actions", {"action": "delete", "queue_ids": deferred})
    assert deferred[0] not in _queued(box)
    helper = box.ssh("systemctl show mailrelay-queue-helper.socket -p NAccepted").stdout
    assert helper.strip() == "NAccepted=2", helper


def test_a_pool_change_made_without_root_reaches_postfix(provisioned: tuple[Lan, DebianBox, Path]) -> None:
    """The panel runs as the relay's user: its change of pool addresses is rendered by root.
    (Last: the new address is not on the interface, and mail would be deferred through it.)"""
    _network, box, _workdir = provisioned

    def reloads() -> int:
        return int(box.ssh("grep -c 'reload -- version' /var/lib/mailrelay/postfix/log/postfix.log",
                           check=False).stdout.strip() or 0)
    before = reloads()
    box.ssh("runuser -u mailrelay -- relayctl --config /etc/mailrelay/relay.yaml pool add-ip default "
            f"{SUBNET}.22 --helo out2.relay1.test")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rendered = box.ssh("cat /var/lib/mailrelay/postfix/conf/master.cf").stdout
        if f"{SUBNET}.22" in rendered and reloads() > before:
            return
        time.sleep(1)
    raise AssertionError("Postfix was not rendered again and reloaded: "
                         + box.ssh("journalctl -u 'mailrelay-postfix*' -n 20 --no-pager").stdout)
