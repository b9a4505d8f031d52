"""Two relay boxes and a database box (which is the monitoring box too), provisioned by the same
playbook: both relay boxes share PostgreSQL and Redis there, so a tenant's per-minute limit holds
across both and the events of both reach the one database; Prometheus there scrapes every box;
PostgreSQL stopped for a minute under load loses and doubles nothing; and the relay boxes share a
virtual address (keepalived), which moves to the other box within seconds when its holder loses
power, every message answered 250 delivered once."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.provisioning.conftest import (
    directory_loaded,
    failure_report,
    make_tenant,
    new_encryption_key,
    playbook,
    swaks,
    wheelhouse,
    write_inventory,
    write_vault,
)
from tests.support.load import Load
from tests.support.nspawn import GATEWAY, SUBNET, DebianBox, Lan, debian_boxes, power_off, power_on
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(2400)  # three boxes booting and provisioning take minutes

DATABASE, RELAYS = f"{SUBNET}.20", (f"{SUBNET}.11", f"{SUBNET}.12")
VIRTUAL = f"{SUBNET}.100"
METRICS_TOKEN = "a metrics token for the provisioning tests"
MX_PORT = 2525
PER_MINUTE = 4


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Lan, list[DebianBox], Path]]:
    spec = [("db1", DATABASE), ("relay1", RELAYS[0]), ("relay2", RELAYS[1])]
    with debian_boxes(spec) as (network, boxes, workdir):
        vault, password_file = write_vault(workdir, {
            "vault_relay_encryption_key": new_encryption_key(),
            "vault_postgresql_password": "pg pass/with:odd@chars",
            "vault_redis_password": "redis-pass-for-tests",
            "vault_metrics_token": METRICS_TOKEN})
        inventory = write_inventory(workdir, workdir / "id_ed25519", {"all": {
            "vars": {
                "relay_wheelhouse": str(wheelhouse(workdir)),
                "relay_encryption_key": "{{ vault_relay_encryption_key }}",
                "relay_database_url": "postgresql+psycopg2://mailrelay:"
                                      f"{{{{ vault_postgresql_password | urlencode }}}}@{DATABASE}/mailrelay",
                "relay_redis_url": f"redis://:{{{{ vault_redis_password | urlencode }}}}@{DATABASE}:6379/0",
                "relay_relayhost": f"[{GATEWAY}]:{MX_PORT}",
                "base_admin_networks": [f"{SUBNET}.0/24"],
                "base_app_networks": [f"{SUBNET}.0/24"],
                "base_monitoring_networks": [f"{SUBNET}.0/24"],
                "relay_metrics_token": "{{ vault_metrics_token }}",
                "keepalived_virtual_address": f"{VIRTUAL}/24",
            },
            "children": {
                "database": {"hosts": {"db1": {"ansible_host": DATABASE}}},
                "monitoring": {"hosts": {"db1": {"ansible_host": DATABASE}}},
                "relay": {"hosts": {name: {"ansible_host": address, "relay_hostname": f"{name}.test"}
                                    for name, address in spec[1:]}},
            }}})
        log = workdir / "first-run.log"
        code, _changed = playbook(network, inventory, vault, password_file, log)
        assert code == 0, failure_report(log, boxes)
        log = workdir / "second-run.log"
        code, changed = playbook(network, inventory, vault, password_file, log)
        assert code == 0 and changed and set(changed.values()) == {0}, (changed, failure_report(log, boxes))
        yield network, boxes, workdir


def test_a_per_minute_limit_holds_across_both_relay_boxes(
        cluster: tuple[Lan, list[DebianBox], Path]) -> None:
    network, (database, relay1, _relay2), workdir = cluster
    credential = make_tenant(relay1, "--per-minute", str(PER_MINUTE))  # made on one box, known to both
    mx = network.popen(sys.executable, "-m", "tests.support.mx_process", GATEWAY, str(MX_PORT),
                       str(workdir / "mx"), log=workdir / "mx.log")
    try:
        directory_loaded(relay1, _relay2)
        while datetime.now(UTC).second > 30:  # the whole burst in one minute
            time.sleep(1)
        verdicts = [swaks(network, RELAYS[n % 2], credential, f"burst {n}") for n in range(PER_MINUTE + 2)]
    finally:
        mx.terminate()
        mx.wait(10)
    accepted = [v for v in verdicts if v.returncode == 0]
    refused = [v for v in verdicts if re.search(r"451 4\.7\.1 .*per minute", v.stdout)]
    assert len(accepted) == PER_MINUTE and len(refused) == 2, [v.stdout[-400:] for v in verdicts]
    # Each relay box accepted some of them: the limit was shared, not per box.
    assert {RELAYS[n % 2] for n, v in enumerate(verdicts) if v.returncode == 0} == set(RELAYS)

    query = "select count(*), count(distinct queue_id) from events where kind = 'delivered'"

    def delivered_by() -> str:
        return database.ssh(f'runuser -u postgres -- psql -d mailrelay -tA -c "{query}"').stdout.strip()
    deadline = time.monotonic() + 120
    while delivered_by() != f"{PER_MINUTE}|{PER_MINUTE}" and time.monotonic() < deadline:
        time.sleep(2)
    assert delivered_by() == f"{PER_MINUTE}|{PER_MINUTE}"


@pytest.fixture(scope="module")
def mx(cluster: tuple[Lan, list[DebianBox], Path]) -> Iterator[Path]:
    """The recording MX every relay box delivers to, for the tests below; the folder it writes to."""
    network, _boxes, workdir = cluster
    folder = workdir / "mx-rest"
    process = network.popen(sys.executable, "-m", "tests.support.mx_process", GATEWAY, str(MX_PORT),
                            str(folder), log=workdir / "mx-rest.log")
    try:
        yield folder
    finally:
        process.terminate()
        process.wait(10)


def delivered(folder: Path) -> Counter[str]:
    """How many times each subject reached the MX."""
    subjects: Counter[str] = Counter()
    for path in folder.glob("*.eml") if folder.exists() else ():
        found = re.search(rb"^Subject: (.*?)\r?$", path.read_bytes(), re.M)
        if found is not None:
            subjects[found.group(1).decode()] += 1
    return subjects


def query(network: Lan, expression: str) -> list[dict[str, Any]]:
    answer = network.run("curl", "-sf", "--get", f"http://{DATABASE}:9090/api/v1/query",
                         "--data-urlencode", f"query={expression}", check=False)
    if answer.returncode != 0:
        return []
    result: list[dict[str, Any]] = json.loads(answer.stdout)["data"]["result"]
    return result


def test_prometheus_on_the_monitoring_box_scrapes_every_box(
        cluster: tuple[Lan, list[DebianBox], Path], mx: Path) -> None:
    network, (_database, relay1, relay2), _workdir = cluster
    credential = make_tenant(relay1, name="metered")
    directory_loaded(relay1, relay2)
    assert swaks(network, RELAYS[0], credential, "counted by prometheus", tenant="metered").returncode == 0

    def targets() -> list[tuple[str, str, str]]:
        found = query(network, 'up{job=~"node|mailrelay-.*"}')
        return [(r["metric"]["job"], r["metric"].get("box", ""), r["value"][1]) for r in found]
    # A node exporter on each of the three boxes, six relay jobs on each relay box, all up.
    def all_up() -> list[tuple[str, str, str]]:
        up = targets()
        return up if len(up) == 3 + 6 * 2 and all(value == "1" for *_, value in up) else []
    try:
        found = eventually(all_up, "every target up", timeout=120, every=2)
    except AssertionError as failed:
        seen = network.run("curl", "-s", f"http://{DATABASE}:9090/api/v1/targets", check=False)
        active = json.loads(seen.stdout or '{"data": {"activeTargets": []}}')["data"]["activeTargets"]
        health = [(t["labels"]["job"], t["scrapeUrl"], t["health"], t["lastError"]) for t in active]
        raise AssertionError(f"{failed}\n{targets()}\n{health}\n{seen.stderr}") from None
    assert {job for job, _, _ in found} == {"node", "mailrelay-panel"} | {
        f"mailrelay-{service}" for service in ("front-end", "milter", "intake", "links", "send-api")}

    def submissions() -> float:
        result = query(network, 'sum(relay_smtp_submissions_total{reply_class="2xx"})')
        return float(result[0]["value"][1]) if result else 0.0
    eventually(lambda: submissions() >= 1, "the submission in Prometheus", timeout=60, every=2)
    rules = json.loads(network.run("curl", "-sf", f"http://{DATABASE}:9090/api/v1/rules").stdout)
    loaded = {rule["name"]: rule["health"] for group in rules["data"]["groups"] for rule in group["rules"]}
    assert "MailrelayServiceDown" in loaded and set(loaded.values()) == {"ok"}


def sender(network: Lan, servers: tuple[str, ...], credential: tuple[str, str],
           tenant: str) -> Callable[[int], tuple[str, bool]]:
    """Message n from app@<tenant>.test by swaks through servers in turn."""
    def send(n: int) -> tuple[str, bool]:
        subject = f"{tenant} {n}"
        try:
            result = swaks(network, servers[n % len(servers)], credential, subject, tenant=tenant, timeout=15)
        except subprocess.TimeoutExpired:
            return subject, False
        return subject, result.returncode == 0
    return send


def test_postgresql_stopped_for_a_minute_under_load(cluster: tuple[Lan, list[DebianBox], Path],
                                                    mx: Path) -> None:
    network, (database, relay1, relay2), _workdir = cluster
    credential = make_tenant(relay1, name="steady")
    directory_loaded(relay1, relay2)
    with Load(sender(network, RELAYS, credential, "steady")) as load:
        time.sleep(5)
        database.ssh("systemctl stop postgresql")
        stopped = time.monotonic()
        time.sleep(60)
        database.ssh("systemctl start postgresql")
        started = time.monotonic()
        time.sleep(10)
    assert not load.refused() and len(load.outcomes) > 20, load.refused()
    assert load.answered_between(stopped, started) >= 20
    eventually(lambda: set(load.accepted()) <= set(delivered(mx)), "every message at the MX", timeout=300,
               every=2)
    assert all(delivered(mx)[subject] == 1 for subject in load.accepted())
    query_events = ("select count(*), count(distinct e.queue_id) from events e join tenants t on t.id = "
                    "e.tenant_id where t.name = 'steady' and e.kind = 'delivered'")
    expected = f"{len(load.accepted())}|{len(load.accepted())}"

    def recorded() -> str:
        command = f'runuser -u postgres -- psql -d mailrelay -tA -c "{query_events}"'
        return database.ssh(command).stdout.strip()
    eventually(lambda: recorded() == expected, "every delivery recorded once", timeout=180, every=2)


def holding(box: DebianBox) -> bool:
    return f"inet {VIRTUAL}/" in box.ssh("ip -o -4 address show", check=False).stdout


def greeting(network: Lan, address: str) -> str:
    """The first line a front-end at address:587 sends, or "" (nothing answers within 2 s)."""
    script = ("import socket,sys\ntry:\n s=socket.create_connection((sys.argv[1],587),timeout=2)\n"
              " print(s.recv(200).decode(errors='replace').strip())\nexcept OSError:\n print('')")
    return network.run(sys.executable, "-c", script, address, check=False, timeout=30).stdout.strip()


def test_the_virtual_address_moves_when_its_box_loses_power(
        cluster: tuple[Lan, list[DebianBox], Path], mx: Path) -> None:
    """Last in the module: it cuts a box's power (and boots it again)."""
    network, (_database, relay1, relay2), workdir = cluster
    credential = make_tenant(relay1, name="steadfast")
    directory_loaded(relay1, relay2)
    holder = eventually(lambda: next((box for box in (relay1, relay2) if holding(box)), None),
                        "a relay box holding the virtual address", timeout=60)
    other = relay2 if holder is relay1 else relay1
    assert greeting(network, VIRTUAL).startswith(f"220 {holder.name}.test ")
    with Load(sender(network, (VIRTUAL,), credential, "steadfast")) as load:
        eventually(lambda: len(load.accepted()) >= 5, "messages through the virtual address", timeout=60)
        power_off(holder)
        cut = time.monotonic()
        eventually(lambda: greeting(network, VIRTUAL).startswith(f"220 {other.name}.test "),
                   "the other box answering at the virtual address", timeout=30, every=0.2)
        moved_after = time.monotonic() - cut
        eventually(lambda: any(when > cut + moved_after and ok for _, when, ok in load.outcomes),
                   "a message accepted through the other box", timeout=60)
    assert moved_after <= 10, moved_after
    # Mail the dead box answered 250 for is in its queue: it goes when the box is back.
    power_on(holder, workdir)
    eventually(lambda: set(load.accepted()) <= set(delivered(mx)), "every accepted message at the MX",
               timeout=300, every=2)
    counts = delivered(mx)
    assert all(counts[subject] == 1 for subject in load.accepted())
    assert all(count == 1 for subject, count in counts.items() if subject.startswith("steadfast "))
