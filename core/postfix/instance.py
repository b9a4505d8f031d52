"""The project's own Postfix instance: rendered from postfix-conf/, checked, started, reloaded.

It lives under one directory (settings.postfix_instance_dir) and is driven with
`postfix -c <dir>/conf`, so it never touches the box's /etc/postfix.
A render writes the new files into a staging directory, runs `postfix check`
there, and only then renames each file into place; a bad template never
replaces a working configuration.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import shutil
import stat
import subprocess
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import jinja2
import psutil

from core.config import Settings
from core.errors import PostfixError
from core.fsutil import write_atomically
from core.postfix import mta_sts
from core.postfix.queue import PostfixQueue
from core.postfix.transports import DEFAULT_TRANSPORT, ROUTE_HEADER, Transport, profile_transport
from core.shaping import NOT_SHAPED, Overrides
from core.shared_files import shared_dir

TEMPLATES_DIR = shared_dir("postfix-conf")
RENDERED_FILES = ("main.cf", "master.cf", "milter_header_checks", "smtp_header_checks")
SIZE_HEADROOM = 1024 * 1024
SUBMIT_SERVICE = "mailrelay-submit"
DEFAULT = Transport(DEFAULT_TRANSPORT, "", "")

# The socketmap table port 25's smtpd asks the intake about each recipient (intake/socketmap.py).
INBOUND_RECIPIENT_MAP = "inbound_recipients"


def inet_protocols(transports: Sequence[Transport]) -> str:
    """main.cf's protocols: IPv6 as well once a pool address in use is an IPv6 one."""
    return "ipv4, ipv6" if any(t.ipv6 for t in transports) else "ipv4"


def _content(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


class PostfixInstance:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.postfix_instance_dir
        self.config_dir = self.root / "conf"
        self.queue_dir = self.root / "queue"
        self.data_dir = self.root / "data"
        self.log_file = self.root / "log" / "postfix.log"
        # What the running master was started with: see start_or_reload.
        self.started_protocols = self.root / "started-inet-protocols"
        # The front-end's way in: see postfix-conf/master.cf.j2.
        self.submit_socket = self.queue_dir / "public" / SUBMIT_SERVICE

    def queue(self, through_helper: bool = True) -> PostfixQueue:
        """Its queue; changed through the root queue helper by a caller that is not root, unless
        through_helper is False (the helper itself)."""
        return PostfixQueue(self.config_dir, self.queue_dir,
                            self.settings.postfix_queue_helper_socket if through_helper else None)

    def template_context(self, transports: Sequence[Transport] = (),
                         shaping: Overrides = NOT_SHAPED) -> dict[str, object]:
        settings = self.settings
        inbound = settings.postfix
        slowed = {name: (concurrency, delay) for name, concurrency, delay in shaping.limits}
        shaped = [(name, *slowed.get(name, (p.concurrency, p.rate_delay_seconds)), p.recipients_per_delivery)
                  for t in (DEFAULT, *transports) for p in settings.delivery_profiles
                  for name in (profile_transport(t.name, p.name),)]
        return {
            "transports": self._delivery_transports(transports),
            "shaped": shaped,
            "deferred_transports": ", ".join(shaping.deferred),
            "tls_policy_map": mta_sts.policy_map(settings),
            "dane": settings.postfix.dane,
            "hostname": settings.hostname,
            "instance_dir": self.root,
            "queue_dir": self.queue_dir,
            "data_dir": self.data_dir,
            "log_file": self.log_file,
            "syslog_name": settings.postfix.syslog_name,
            "submit_service": SUBMIT_SERVICE,
            "relayhost": settings.postfix.relayhost,
            "message_size_limit": settings.smtp.max_message_size + SIZE_HEADROOM,
            "milter_socket": settings.milter_socket,
            "bounce_domain": settings.bounce_domain,
            "feedback_domain": settings.feedback_domain,
            "intake_socket": settings.intake_socket,
            "intake_socketmap": settings.intake_socketmap,
            "inbound_recipient_map": INBOUND_RECIPIENT_MAP,
            "simulator_domain": settings.simulator_domain,
            "simulator_socket": settings.simulator_socket,
            "inbound_service": self._inbound_service(),
            "inet_interfaces": "loopback-only" if inbound.inbound_address.startswith("127.") else "all",
            "inet_protocols": inet_protocols(transports),
            "route_header": ROUTE_HEADER,
            # FILTER replaces the next hop as well as the transport: the relayhost must ride along.
            "route_nexthop": settings.postfix.relayhost,
        }

    def _inbound_service(self) -> str:
        """master.cf's name for the port-25 listener: all interfaces, or one address."""
        postfix = self.settings.postfix
        if postfix.inbound_address == "0.0.0.0":
            return str(postfix.inbound_port)
        return f"{postfix.inbound_address}:{postfix.inbound_port}"

    def _delivery_transports(self, transports: Sequence[Transport]) -> list[Transport]:
        """The box's own address first, unbound, then each pool address; each also per profile."""
        profiles = self.settings.delivery_profiles
        return [variant for t in (DEFAULT, *transports)
                for variant in (t, *(replace(t, name=profile_transport(t.name, p.name)) for p in profiles))]

    def render_files(self, transports: Sequence[Transport] = (),
                     shaping: Overrides = NOT_SHAPED) -> dict[str, bytes]:
        environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
            autoescape=False,
        )
        context = self.template_context(transports, shaping)
        return {name: environment.get_template(f"{name}.j2").render(context).encode()
                for name in RENDERED_FILES}

    def _postfix(self, *args: str, config_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
        command = ["postfix", "-c", str(config_dir or self.config_dir), *args]
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        except FileNotFoundError as exc:
            raise PostfixError("the postfix command is not installed (apt-get install postfix)") from exc

    def _prepare_directories(self) -> None:
        try:
            postfix_user = pwd.getpwnam("postfix")
        except KeyError as exc:
            raise PostfixError("there is no 'postfix' user: install Debian's postfix package") from exc
        self._check_traversable(postfix_user.pw_uid)
        for directory in (self.config_dir, self.queue_dir, self.log_file.parent):
            directory.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.chown(self.data_dir, postfix_user.pw_uid, postfix_user.pw_gid)

    def _check_traversable(self, postfix_uid: int) -> None:
        """Postfix's daemons run as the postfix user and must reach the instance directory."""
        self.root.mkdir(parents=True, exist_ok=True)
        for directory in (self.root, *self.root.parents):
            info = directory.stat()
            if info.st_uid != postfix_uid and not info.st_mode & stat.S_IXOTH:
                raise PostfixError(f"the postfix user cannot enter {directory} (mode "
                                   f"{stat.filemode(info.st_mode)}); put the state directory elsewhere "
                                   f"or chmod o+x {directory}")

    def render(self, transports: Sequence[Transport] = (), shaping: Overrides = NOT_SHAPED) -> bool:
        """Write a checked configuration into the instance directory, with these delivery transports
        and the pathways adaptive shaping holds back (core/shaping.py); whether a file changed."""
        self._prepare_directories()
        files = self.render_files(transports, shaping)
        # Services render on their own (the intake for shaping, relayctl, the panel): one at a time.
        with (self.root / ".render.lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            staging = self.root / "conf.staging"
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir()
            try:
                for name, data in files.items():
                    write_atomically(staging / name, data)
                result = self._postfix("check", config_dir=staging)
                if result.returncode != 0:
                    raise PostfixError(f"postfix check refused the rendered configuration: "
                                       f"{(result.stderr or result.stdout).strip()}")
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            changed = [name for name, data in files.items() if _content(self.config_dir / name) != data]
            for name in changed:
                write_atomically(self.config_dir / name, files[name])
            return bool(changed)

    def is_running(self) -> bool:
        """Whether the instance's master process lives, from its pid file: instant, where
        `postfix status` takes a second to say no (Postfix sleeps a second after a fatal error)."""
        try:
            pid = int((self.queue_dir / "pid" / "master.pid").read_text().split()[0])
            master = psutil.Process(pid)
            # A killed master stays a zombie until whoever adopted it reaps it.
            return master.name() == "master" and master.status() != psutil.STATUS_ZOMBIE
        except (OSError, ValueError, IndexError, psutil.Error):
            return False

    def start_or_reload(self) -> None:
        """Postfix must be stopped and started, not reloaded, for a change of inet_protocols."""
        protocols = self._configured_protocols()
        if self.is_running():
            try:
                started = self.started_protocols.read_text().strip()
            except FileNotFoundError:
                started = protocols
            if started == protocols:
                self._run("reload")
                return
            self.stop()
        write_atomically(self.started_protocols, f"{protocols}\n".encode())
        self._run("start")

    def _run(self, action: str) -> None:
        result = self._postfix(action)
        if result.returncode != 0:
            raise PostfixError(f"postfix {action} failed: {(result.stderr or result.stdout).strip()}")

    def _configured_protocols(self) -> str:
        """inet_protocols as rendered (postconf would take a second or two to say the same)."""
        for line in (self.config_dir / "main.cf").read_text().splitlines():
            name, _, value = line.partition("=")
            if name.strip() == "inet_protocols":
                return value.strip()
        raise PostfixError(f"{self.config_dir / 'main.cf'} sets no inet_protocols: render it first")

    def stop(self) -> None:
        if self.is_running():
            self._run("stop")

    def flush(self) -> None:
        """Ask Postfix to retry deferred mail now."""
        self._postfix("flush")
