"""A whole relay box for integration tests: its own Postfix instance, the front-end as a
real subprocess, a recording sink Postfix delivers to, and one tenant ready to send."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from core import tenants
from core.config import DEFAULT_METRICS_PORTS, Settings, load_settings
from core.db import directory_version, make_engine, session_scope
from core.models import AcceptedMessage
from core.postfix.instance import PostfixInstance
from core.secretbox import SecretBox
from core.snapshot_cache import SERVICES, served_version
from core.unsubscribe import Unsubscribe, make_token, token_key
from relayctl.cli import main as relayctl
from relayctl.send_test import client_tls_context
from tests.support.sink import Sink, free_port
from tests.support.waiting import eventually

REPO = Path(__file__).resolve().parents[2]
TENANT = "acme"
DOMAIN = "acme.test"


def wait_for_port(host: str, port: int, timeout: float = 20.0) -> None:
    def listening() -> bool:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            return False
    eventually(listening, f"listener on {host}:{port}", timeout)


def box_config(state_dir: Path, sink_port: int, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "hostname": "relay.test",
        "state_dir": str(state_dir),
        "smtp": {
            "listen_address": "127.0.0.1",
            "submission_port": free_port(),
            "smtps_port": free_port(),
            "max_message_size": 200_000,
            "max_recipients": 5,
            "auth_failures": {"slowdown_after": 3, "slowdown_seconds": 0.2,
                              "lockout_after": 5, "lockout_seconds": 60},
        },
        "postfix": {"relayhost": f"[127.0.0.1]:{sink_port}", "syslog_name": "relaytest",
                    "inbound_address": "127.0.0.1", "inbound_port": free_port()},
        "dns": {"bounce_domain": "bounces.relay.test"},
        "panel": {"listen_address": "127.0.0.1", "port": free_port()},
        "send_api": {"listen_address": "127.0.0.1", "port": free_port()},
        "metrics": {"ports": {service: free_port() for service in DEFAULT_METRICS_PORTS}},
        # The tests' webhook receivers listen on loopback, which webhooks may not reach unless allowed.
        "webhooks": {"allow_networks": ["127.0.0.0/8"]},
        # Tests that need limits set them; the rest send freely.
        "limits": {"per_second": 0, "per_hour": 0, "per_day": 0, "concurrent_connections": 0},
    }
    if os.environ.get("RELAY_TEST_DATABASE_URL"):
        config["database_url"] = os.environ["RELAY_TEST_DATABASE_URL"]
    for section, values in overrides.items():
        if isinstance(values, dict):
            config.setdefault(section, {}).update(values)
        else:
            config[section] = values
    return config


def _stop(process: subprocess.Popen[bytes] | None, sig: int) -> None:
    if process is not None and process.poll() is None:
        process.send_signal(sig)
        process.wait(30)


@dataclass
class Box:
    root: Path
    sink: Sink
    config_path: Path = field(init=False)
    settings: Settings = field(init=False)
    username: str = ""
    password: str = ""
    front_end: subprocess.Popen[bytes] | None = None
    milter: subprocess.Popen[bytes] | None = None
    intake: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.config_path = self.root / "relay.yaml"
        self.settings = load_settings(self.config_path)

    @property
    def instance(self) -> PostfixInstance:
        return PostfixInstance(self.settings)

    @property
    def submission_port(self) -> int:
        return self.settings.smtp.submission_port

    @property
    def smtps_port(self) -> int:
        return self.settings.smtp.smtps_port

    def tls_context(self) -> ssl.SSLContext:
        return client_tls_context(self.settings)

    def start_front_end(self, open_files: int | None = None, log: Path | None = None) -> None:
        """open_files: the process's limit on open files, as a unit's LimitNOFILE; log: where its
        log goes (else the test's own output)."""
        def limit() -> None:
            if open_files is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

        with contextlib.ExitStack() as files:
            output = files.enter_context(log.open("ab")) if log is not None else None
            self.front_end = subprocess.Popen([sys.executable, "-m", "relay", str(self.config_path)],
                                              cwd=REPO, preexec_fn=limit, stderr=output)
        wait_for_port("127.0.0.1", self.submission_port)
        wait_for_port("127.0.0.1", self.smtps_port)

    def stop_front_end(self, sig: int = signal.SIGTERM) -> None:
        _stop(self.front_end, sig)
        self.front_end = None

    def start_intake(self) -> None:
        intake = self.intake = subprocess.Popen([sys.executable, "-m", "intake", str(self.config_path)],
                                                cwd=REPO)

        def started() -> bool:
            assert intake.poll() is None, "the intake exited"
            return self.settings.intake_socket.exists()
        eventually(started, "intake socket")

    def start_milter(self) -> None:
        self.milter = subprocess.Popen([sys.executable, "-m", "milter", str(self.config_path)], cwd=REPO)
        kind, _, where = self.settings.milter_socket.partition(":")
        host, _, port = where.rpartition(":")
        address: str | tuple[str, int] = where if kind == "unix" else (host, int(port))
        milter = self.milter

        def listening() -> bool:
            assert milter.poll() is None, "the milter exited"
            with socket.socket(socket.AF_UNIX if kind == "unix" else socket.AF_INET) as probe:
                return probe.connect_ex(address) == 0
        eventually(listening, "milter listener")

    def directory_loaded(self) -> None:
        """Wait until each running service serves the directory as it is now."""
        engine = make_engine(self.settings.effective_database_url)
        try:
            version = directory_version(engine)
        finally:
            engine.dispose()
        for service, process in zip(SERVICES, (self.front_end, self.milter, self.intake), strict=True):
            if process is not None:
                loaded = self.settings.directory_loaded_file(service)
                eventually(lambda: (served_version(loaded) or 0) >= version,  # noqa: B023
                           f"{service} at directory version {version}")

    def stop_milter(self, sig: int = signal.SIGTERM) -> None:
        _stop(self.milter, sig)
        self.milter = None

    def assert_never_delivered(self, subject: str) -> None:
        """Postfix retries what it holds, and the sink still never sees this subject."""
        self.instance.flush()
        time.sleep(1.0)
        assert not self.sink.with_subject(subject)

    def accepted_record(self, queue_id: str) -> AcceptedMessage:
        """The milter's record of an accepted message, which it writes a moment after its verdict."""
        def find() -> AcceptedMessage | None:
            with self.db_session() as session:
                record = session.scalar(select(AcceptedMessage).options(joinedload(AcceptedMessage.tenant))
                                        .where(AcceptedMessage.queue_id == queue_id))
                if record is not None:
                    session.expunge(record)
                return record
        return eventually(find, f"record of {queue_id}", timeout=10)

    def postfix_log(self) -> str:
        log = self.instance.log_file
        return log.read_text(errors="replace") if log.exists() else ""

    def unsubscribe_token(self, recipient: str, list_name: str = "", tenant: str = TENANT) -> str:
        """A token as the milter puts in a tenant's List-Unsubscribe link."""
        with self.db_session() as session:
            tenant_id = tenants.get_tenant(session, tenant).id
        key = token_key(SecretBox.from_file(self.settings.effective_encryption_key_file))
        return make_token(key, Unsubscribe(tenant_id, list_name, recipient))

    def db_session(self) -> Any:
        return session_scope(make_engine(self.settings.effective_database_url))

    def inbound(self) -> smtplib.SMTP:
        """An smtplib session on port 25's listener, as the world reaches it."""
        return smtplib.SMTP(self.settings.postfix.inbound_address, self.settings.postfix.inbound_port,
                            timeout=30)

    def rcpt_reply(self, address: str) -> tuple[int, bytes]:
        """The front-end's RCPT reply for a tenant's message to address, once every service serves
        the directory as it is now."""
        self.directory_loaded()
        with self.client() as client:
            client.mail(f"app@{DOMAIN}")
            return client.rcpt(address)

    @contextmanager
    def client(self, login: bool = True) -> Iterator[smtplib.SMTP]:
        """An smtplib session on the submission port, after STARTTLS (and AUTH)."""
        client = smtplib.SMTP("127.0.0.1", self.submission_port, timeout=30)
        try:
            client.starttls(context=self.tls_context())
            client.ehlo()
            if login:
                client.login(self.username, self.password)
            yield client
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()


@contextmanager
def box_root() -> Iterator[Path]:
    """A folder the postfix user can enter (pytest's own temporary folders are 0700)."""
    root = Path(tempfile.mkdtemp(prefix="mailrelay-test-", dir="/var/tmp"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def make_box(root: Path, sink: Sink, **overrides: Any) -> Box:
    """Configure a box with one tenant, one credential and one verified domain; start Postfix."""
    root.mkdir(parents=True, exist_ok=True)
    config = box_config(root / "state", sink.port, **overrides)
    (root / "relay.yaml").write_text(yaml.safe_dump(config))
    box = Box(root, sink)
    if box.settings.database_url.startswith("postgresql"):
        reset_postgres(box.settings.database_url)
    assert relayctl(["--config", str(box.config_path), "init"]) == 0
    box.instance.start_or_reload()
    secrets = SecretBox.from_file(box.settings.effective_encryption_key_file)
    with box.db_session() as session:
        tenants.add_tenant(session, TENANT)
        credential = tenants.add_credential(session, TENANT)
        tenants.mark_verified_by_operator(session, tenants.add_domain(session, secrets, TENANT, DOMAIN))
        tenants.add_domain(session, secrets, TENANT, "unverified.acme.test")
        tenants.add_tenant(session, "other")
        other = tenants.add_domain(session, secrets, "other", "other.test")
        tenants.mark_verified_by_operator(session, other)
    box.username, box.password = credential.username, credential.secret
    return box


@contextmanager
def running_box(sink: Sink, **overrides: Any) -> Iterator[Box]:
    """A box with Postfix and the front-end running, torn down afterwards."""
    with box_root() as root:
        box = make_box(root, sink, **overrides)
        try:
            box.start_intake()
            box.start_milter()
            box.start_front_end()
            yield box
        finally:
            destroy_box(box)


@contextmanager
def links_service(box: Box) -> Iterator[None]:
    """The box's link service (links/) running beside it, on links.port."""
    with _service_beside(box, "links", box.settings.links.listen_address, box.settings.links.port):
        yield


@contextmanager
def send_api_service(box: Box) -> Iterator[None]:
    """The box's HTTP send API (send_api/) running beside it, on send_api.port."""
    with _service_beside(box, "send_api", box.settings.send_api.listen_address, box.settings.send_api.port):
        yield


@contextmanager
def _service_beside(box: Box, module: str, address: str, port: int) -> Iterator[None]:
    process = subprocess.Popen([sys.executable, "-m", module, str(box.config_path)], cwd=REPO)
    try:
        wait_for_port(address, port)
        yield
    finally:
        process.terminate()
        process.wait(20)


def reset_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


def destroy_box(box: Box) -> None:
    box.stop_front_end()
    box.stop_milter()
    _stop(box.intake, signal.SIGTERM)
    box.instance.stop()


def message(subject: str, sender: str = f"app@{DOMAIN}", to: str = "someone@example.org",
            body: str = "hello\r\n", extra_headers: str = "") -> bytes:
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {formatdate()}\r\n{extra_headers}"
            f"Message-ID: <{subject.replace(' ', '-')}@{DOMAIN}>\r\n\r\n{body}").encode()
