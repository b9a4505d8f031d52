"""relayctl dns: the records the operator publishes for the box, checked against a loopback DNS."""

from __future__ import annotations

import re

import yaml
from dns.reversename import from_address

from core.box_records import MAX_SPF_PARTS, MAX_SPF_STRING, spf_records
from tests.integration.test_relayctl import relayctl
from tests.support.box import box_config, box_root, reset_postgres
from tests.support.dns_server import LoopbackDns, zone_records

POOL = ("192.0.2.1", "192.0.2.2", "192.0.2.3")
OWN = "198.51.100.7"


def test_a_pool_of_three_gets_its_spf_record_and_a_missing_ptr_is_reported(dns: LoopbackDns) -> None:
    with box_root() as root:
        config = root / "relay.yaml"
        settings = box_config(root / "state", 2525, dns={
            "nameservers": ["127.0.0.1"], "nameserver_port": dns.port, "own_addresses": [OWN]})
        config.write_text(yaml.safe_dump(settings))
        if settings.get("database_url", "").startswith("postgresql"):
            reset_postgres(settings["database_url"])
        assert relayctl(config, "init").returncode == 0
        for n, address in enumerate(POOL, 1):
            added = relayctl(config, "pool", "add-ip", "default", address, "--helo", f"out{n}.relay.test")
            assert added.returncode == 0, added.stderr

        unpublished = relayctl(config, "dns")
        assert unpublished.returncode == 1
        records = zone_records(unpublished.stdout)
        spf = [value for name, rdtype, value in records if name == "_spf.relay.test"]
        assert spf == [f'"v=spf1 ip4:192.0.2.1 ip4:192.0.2.2/31 ip4:{OWN} -all"']
        assert ("bounces.relay.test", "MX", "10 relay.test.") in records
        assert ("feedback.relay.test", "MX", "10 relay.test.") in records
        assert ("bounces.relay.test", "TXT", '"v=spf1 include:_spf.relay.test -all"') in records
        assert ("out3.relay.test", "A", "192.0.2.3") in records
        assert ("out3.relay.test", "TXT", '"v=spf1 ip4:192.0.2.3 -all"') in records

        missing_ptr = from_address("192.0.2.3").to_text().rstrip(".")
        for name, rdtype, value in records:
            if rdtype != "PTR" or name != missing_ptr:
                dns.add(name, rdtype, value)
        # A published SPF record may name the pool as a network: it still covers every address.
        dns.records[("_spf.relay.test", "TXT")] = [f'"v=spf1 ip4:192.0.2.0/24 ip4:{OWN} -all"']
        checked = relayctl(config, "dns")
        assert checked.returncode == 1, checked.stdout
        assert f"MISSING  reverse dns  {missing_ptr} PTR" in checked.stdout
        assert "1 records do not match" in checked.stdout
        assert re.search(r"^ok\s+spf\s+_spf\.relay\.test TXT", checked.stdout, re.M)

        dns.add(missing_ptr, "PTR", "out3.relay.test.")
        assert relayctl(config, "dns").returncode == 0

        # A fourth address changes what is expected: the published record no longer covers it.
        assert relayctl(config, "pool", "add-ip", "default", "203.0.113.9", "--helo", "out4.relay.test"
                        ).returncode == 0
        after = relayctl(config, "dns")
        assert after.returncode == 1
        assert re.search(r"^MISSING\s+spf\s+_spf\.relay\.test TXT", after.stdout, re.M)


def test_many_addresses_are_split_into_included_records_of_one_string_each() -> None:
    scattered = [f"10.{n}.{n}.1" for n in range(1, 60)] + [f"2001:db8:{n:x}::1" for n in range(1, 20)]
    records = spf_records("_spf.relay.test", scattered)
    top, *parts = records
    assert top.value.startswith("v=spf1 include:_spf1.relay.test include:_spf2.relay.test")
    assert 1 < len(parts) <= MAX_SPF_PARTS
    assert all(len(record.value) <= MAX_SPF_STRING for record in records)
    listed = [term for part in parts for term in part.value.split() if term.startswith("ip")]
    assert len(listed) == len(scattered)
    # Adjacent addresses are merged: a whole /24 is one term.
    assert spf_records("_spf.relay.test", [f"192.0.2.{n}" for n in range(256)])[0].value == (
        "v=spf1 ip4:192.0.2.0/24 -all")
