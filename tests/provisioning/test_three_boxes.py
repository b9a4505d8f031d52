"""Two relay boxes and a database box, provisioned by the same playbook: both relay boxes share
PostgreSQL and Redis there, so a tenant's per-minute limit holds across both, and the events of
both reach the one database."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

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
from tests.support.nspawn import GATEWAY, SUBNET, DebianBox, Lan, debian_boxes

pytestmark = pytest.mark.timeout(2400)  # three boxes booting and provisioning take minutes

DATABASE, RELAYS = f"{SUBNET}.20", (f"{SUBNET}.11", f"{SUBNET}.12")
MX_PORT = 2525
PER_MINUTE = 4


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Lan, list[DebianBox], Path]]:
    spec = [("db1", DATABASE), ("relay1", RELAYS[0]), ("relay2", RELAYS[1])]
    with debian_boxes(spec) as (network, boxes, workdir):
        vault, password_file = write_vault(workdir, {
            "vault_relay_encryption_key": new_encryption_key(),
            "vault_postgresql_password": "pg pass/with:odd@chars",
            "vault_redis_password": "redis-pass-for-tests"})
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
            },
            "children": {
                "database": {"hosts": {"db1": {"ansible_host": DATABASE}}},
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
