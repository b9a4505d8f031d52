"""relayctl as README.md uses it: init, tenant, credential, domain add and verify, run, send-test."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import yaml

from tests.support.box import REPO, box_config, box_root, reset_postgres, wait_for_port
from tests.support.dns_server import LoopbackDns, zone_records
from tests.support.sink import Sink
from tests.support.waiting import eventually


def relayctl(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "relayctl.cli", "--config", str(config), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, **(env or {})})


def publish(dns: LoopbackDns, printed: str) -> None:
    for name, rdtype, value in zone_records(printed):
        dns.add(name, rdtype, value)


def test_readme_flow(sink: Sink, dns: LoopbackDns) -> None:
    with box_root() as root:
        config = root / "relay.yaml"
        settings = box_config(root / "state", sink.port,
                              dns={"nameservers": ["127.0.0.1"], "nameserver_port": dns.port})
        config.write_text(yaml.safe_dump(settings))
        if settings.get("database_url", "").startswith("postgresql"):
            reset_postgres(settings["database_url"])

        init = relayctl(config, "init")
        assert init.returncode == 0, init.stderr
        assert "self-signed certificate" in init.stdout
        assert relayctl(config, "tenant", "add", "acme").returncode == 0
        assert relayctl(config, "tenant", "add", "Not Valid").returncode == 2
        credential = relayctl(config, "credential", "add", "acme")
        username = re.search(r"username: (\S+)", credential.stdout)
        password = re.search(r"password: (\S+)", credential.stdout)
        assert username and password

        added = relayctl(config, "domain", "add", "acme", "example.test")
        assert added.returncode == 0, added.stderr
        for purpose in ("; dkim", "; spf", "; dmarc", "; return-path"):
            assert purpose in added.stdout
        assert "._domainkey.example.test. IN TXT" in added.stdout

        unverified = relayctl(config, "domain", "verify", "example.test")
        assert unverified.returncode == 1
        assert "not verified" in unverified.stdout
        publish(dns, added.stdout)
        verified = relayctl(config, "domain", "verify", "example.test")
        assert verified.returncode == 0, verified.stdout
        assert "example.test: verified" in verified.stdout
        assert "MISSING" not in verified.stdout

        listing = relayctl(config, "tenant", "list")
        assert "acme" in listing.stdout and "example.test" in listing.stdout
        assert "(unverified)" not in listing.stdout

        run = subprocess.Popen([sys.executable, "-m", "relayctl.cli", "--config", str(config), "run"],
                               cwd=REPO)
        try:
            wait_for_port("127.0.0.1", settings["smtp"]["submission_port"])
            sent = relayctl(config, "send-test", "--username", username.group(1),
                            "--from", "app@example.test", "--to", "friend@example.org",
                            env={"RELAY_SMTP_PASSWORD": password.group(1)})
            assert sent.returncode == 0, sent.stdout + sent.stderr
            assert ": sent" in sent.stdout
            implicit = relayctl(config, "send-test", "--implicit-tls", "--username", username.group(1),
                                "--from", "app@example.test", "--to", "friend@example.org",
                                env={"RELAY_SMTP_PASSWORD": password.group(1)})
            assert implicit.returncode == 0, implicit.stdout + implicit.stderr
            # The panel is served too (waitress), and sends a visitor to its login page.
            wait_for_port("127.0.0.1", settings["panel"]["port"])
            with urllib.request.urlopen(f"http://127.0.0.1:{settings['panel']['port']}/", timeout=10) as page:
                assert page.status == 200 and "/login?next=" in page.url
                assert "Log in" in page.read().decode()
        finally:
            run.send_signal(signal.SIGTERM)
            assert run.wait(60) == 0
        assert len(sink.with_subject("mailrelay test message")) == 2
        # A clean stop stops the Postfix instance too.
        status = ["postfix", "-c", str(root / "state" / "postfix" / "conf"), "status"]
        eventually(lambda: subprocess.run(status, capture_output=True, check=False).returncode != 0,
                   "Postfix stopped")


def test_send_keys_are_made_listed_and_revoked(sink: Sink) -> None:
    with box_root() as root:
        config = root / "relay.yaml"
        settings = box_config(root / "state", sink.port)
        config.write_text(yaml.safe_dump(settings))
        if settings.get("database_url", "").startswith("postgresql"):
            reset_postgres(settings["database_url"])
        assert relayctl(config, "init").returncode == 0
        assert relayctl(config, "tenant", "add", "acme").returncode == 0
        made = relayctl(config, "send-key", "add", "acme", "--name", "shop")
        key = re.search(r"send key (\d+) \(shop\) for acme: (rsk_\S+)", made.stdout)
        assert key is not None and "shown only now" in made.stderr
        listed = relayctl(config, "send-key", "list", "acme").stdout
        assert "shop" in listed and "active" in listed and key.group(2) not in listed
        assert relayctl(config, "send-key", "revoke", "acme", key.group(1)).returncode == 0
        assert "revoked" in relayctl(config, "send-key", "list", "acme").stdout
        trial = relayctl(config, "send-key", "add", "acme", "--name", "trial", "--expires-in-days", "30")
        assert trial.returncode == 0 and ", until " in trial.stdout
        assert "active until" in relayctl(config, "send-key", "list", "acme").stdout
        too_long = relayctl(config, "send-key", "add", "acme", "--expires-in-days", "5000")
        assert too_long.returncode != 0 and "expires_in_days" in too_long.stderr
        missing = relayctl(config, "send-key", "revoke", "acme", "999")
        assert missing.returncode != 0 and "no send key 999" in missing.stderr
