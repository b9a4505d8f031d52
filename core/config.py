"""The relay's configuration: one YAML file, parsed once into typed objects.

Every setting has a default that serves a first run on one box. A wrong,
unknown or missing setting raises ConfigError naming the setting, so a service
stops at start with a message an operator can act on.

The loader is a small one of our own: it maps nested dicts onto frozen
dataclasses by their type hints. The libraries that do this (pydantic, attrs
with cattrs) would be a dependency for forty lines of code.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import socket
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from core import limits as sending_limits
from core.errors import ConfigError, InvalidInputError
from core.webhook_targets import allowed_networks

DEFAULT_CONFIG_PATH = Path("/etc/mailrelay/relay.yaml")
CONFIG_PATH_ENV = "RELAY_CONFIG"

_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$)({_LABEL}\.)*{_LABEL}$")


def is_hostname(name: str) -> bool:
    return _HOSTNAME.match(name) is not None
_RELAYHOST = re.compile(r"^(\[[^\]]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$")


@dataclass(frozen=True)
class AuthFailureSettings:
    """How repeated AUTH failures from one client address are slowed down, then locked out."""

    window_seconds: int = 900
    slowdown_after: int = 3
    slowdown_seconds: float = 2.0
    lockout_after: int = 10
    lockout_seconds: int = 900


@dataclass(frozen=True)
class SmtpSettings:
    listen_address: str = "0.0.0.0"
    submission_port: int = 587
    smtps_port: int = 465
    max_message_size: int = 25 * 1024 * 1024
    max_recipients: int = 100
    idle_timeout_seconds: int = 300
    # A new connection must complete TLS (on the smtps port) and send its first command within this.
    greeting_timeout_seconds: int = 30
    # Past either cap a new connection gets 421 4.7.0; a client is an IPv4 address or an IPv6 /64.
    # Both caps, and the AUTH failure counts, are kept by each front-end process.
    max_connections: int = 2000
    max_connections_per_client: int = 50
    # Front-end processes sharing the ports (SO_REUSEPORT); 0: one per four cores.
    processes: int = 0
    # Load balancers (HAProxy) in front, as addresses or networks: each connection from one begins
    # with a PROXY protocol header (v1 or v2) naming the client, whose address then counts for the
    # caps, AUTH lockouts, logs and Postfix. Connections from elsewhere are closed at once. Empty:
    # clients connect directly.
    proxy_protocol_from: tuple[str, ...] = ()
    # None: a self-signed certificate made by `relayctl init` under state_dir/tls.
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    auth_failures: AuthFailureSettings = field(default_factory=AuthFailureSettings)


@dataclass(frozen=True)
class PostfixSettings:
    # None: state_dir/postfix.
    instance_dir: Path | None = None
    # Where the world delivers bounces and complaints for the bounce domain (port 25).
    # Only the bounce domain is accepted there: no relaying.
    inbound_address: str = "0.0.0.0"
    inbound_port: int = 25
    # Empty: deliver to each recipient domain's MX. "[host]:port" sends everything there.
    relayhost: str = ""
    syslog_name: str = "mailrelay"
    handoff_timeout_seconds: int = 120
    # DANE (RFC 7672) where the system resolver validates DNSSEC: an MX with DNSSEC-signed TLSA
    # records gets TLS verified against them, or its mail waits. Without validation, no change.
    dane: bool = True
    # Where Debian's postfix-mta-sts-resolver answers Postfix's TLS policy lookups (MTA-STS,
    # RFC 8461), started by `relayctl run` (core/postfix/mta_sts.py); 0: no MTA-STS.
    mta_sts_port: int = 0


@dataclass(frozen=True)
class DnsSettings:
    # Empty: the system resolver. Otherwise these addresses, on nameserver_port.
    nameservers: tuple[str, ...] = ()
    nameserver_port: int = 53
    # Empty: derived from the relay's hostname (see Settings.bounce_domain / spf_domain).
    bounce_domain: str = ""
    # Where feedback loops (abuse reports of receiving providers) are sent; the report's copy
    # of the message carries its return-path. Empty: feedback.<hostname>.
    feedback_domain: str = ""
    spf_domain: str = ""
    # The box's own public addresses, which it sends from while the default pool has none; the
    # SPF record lists them. Empty: the A and AAAA records of hostname.
    own_addresses: tuple[str, ...] = ()
    # The mailbox simulator's domain (success@, bounce@, ooto@, complaint@, suppressionlist@):
    # mail to it never leaves the box. Empty: simulator.<hostname>.
    simulator_domain: str = ""
    dmarc_policy: str = "none"
    # DNS blocklist zones each pool address is checked against (relayctl pool check).
    blocklists: tuple[str, ...] = ("zen.spamhaus.org", "bl.spamcop.net", "b.barracudacentral.org")
    # How often relayctl run checks every pool address (FCrDNS, blocklists); 0: never.
    pool_check_minutes: int = 60


@dataclass(frozen=True)
class ReputationSettings:
    """Bounce and complaint rates per tenant over a sliding window: past warn, an event; past
    pause, the tenant is paused until the operator resumes it. SES's figures by default."""

    window_hours: int = 24
    min_sends: int = 100
    bounce_warn: float = 0.05
    bounce_pause: float = 0.10
    complaint_warn: float = 0.001
    complaint_pause: float = 0.005
    # A pause for complaints needs this many recipients' complaints too: one report is no evidence.
    min_complaints: int = 5
    # Complaint rates at each delivery profile's domains alone, where Gmail and Yahoo draw the line.
    provider_complaint_warn: float = 0.001
    provider_complaint_pause: float = 0.003


@dataclass(frozen=True)
class WebhookSettings:
    # A failed delivery is tried again after base * 2^attempts seconds, at most an hour apart,
    # until max_age_hours after the event.
    retry_base_seconds: float = 30.0
    timeout_seconds: float = 10.0
    max_age_hours: int = 72
    # Webhooks reach public addresses only; networks listed here too (e.g. "10.1.2.0/24" for an
    # operator's own receiver). Checked when a webhook is set and at every request.
    allow_networks: tuple[str, ...] = ()


@dataclass(frozen=True)
class MilterSettings:
    # "": a Unix socket in state_dir/milter. Or "unix:/path" or "inet:127.0.0.1:port".
    socket: str = ""
    # "": throttle counters in the milter's memory, saved to state_dir/milter. Or a
    # redis:// URL, which several boxes share.
    redis_url: str = ""
    # How long the record of each message let through is kept; reports about older ones change nothing.
    record_days: int = 90
    # While Redis cannot be reached: "local" counts on this box alone and adds its counts to
    # Redis when it is back (milter/throttle_fallback.py); "refuse" tempfails every message.
    redis_unavailable: str = "local"
    # Milter processes; more than one needs redis_url (throttle counters in memory are per process).
    # 0: one per four cores with redis_url, else one.
    processes: int = 0


@dataclass(frozen=True)
class DeliveryProfile:
    """How Postfix treats one big mailbox provider: per outbound address and destination domain."""

    name: str
    domains: tuple[str, ...]
    concurrency: int = 5
    rate_delay_seconds: int = 0  # above 0, Postfix sends one message at a time per destination
    recipients_per_delivery: int = 50


@dataclass(frozen=True)
class WarmupSettings:
    """A warming address moves to its next day's cap only when its mail over the step fared
    well (core/warmup.py): rates of its outcomes at or under these. Past twice any of them it
    was a bad day, and it steps back."""

    step_hours: int = 24
    max_bounce_rate: float = 0.03
    max_deferral_rate: float = 0.15
    max_complaint_rate: float = 0.001
    # Fewer outcomes than this over a step say nothing: the address holds its step.
    min_outcomes: int = 20


@dataclass(frozen=True)
class ShapingRule:
    """A receiver's reply that says slow down, and what a pathway (an outbound address's delivery
    transport, per delivery profile) does about it (core/shaping.py)."""

    name: str
    reply: str  # a regular expression, matched against the deferral's text, lower-cased
    # The delivery profile whose pathways the rule is for ("": any profile's); a rule for a
    # profile the settings do not have matches nothing.
    provider: str = ""
    # A regular expression the replying host's name must match: a look-alike reply from a
    # host that is not the provider's counts for nothing. "": any host.
    hosts: str = ""
    action: str = "suspend"  # suspend: the pathway waits; slow: it sends with these limits
    seconds: int = 1800  # how long, each time the reply comes; then it climbs back a step at a time
    concurrency: int = 1
    rate_delay_seconds: int = 0
    # Suspend only: new mail goes from another address of the tenant's pool meanwhile (when one
    # can send); false, or none can: it waits in the queue with the rest.
    reroute: bool = False


DEFAULT_SHAPING_RULES = (
    # Yahoo's sender help: [TSS04] and the like are temporary deferrals for volume or complaints.
    ShapingRule("yahoo-tss", r"\[ts[s0-9]*\]|temporarily deferred due to unexpected volume", "yahoo",
                r"(^|\.)(yahoodns\.net|yahoo\.com|aol\.com)$", "suspend", 1800),
    # Gmail's 421-4.7.28 and "unusual rate of unsolicited mail": slow down, do not stop.
    ShapingRule("gmail-rate", r"4\.7\.28|unusual rate", "gmail", r"(^|\.)(google\.com|googlemail\.com)$",
                "slow", 3600, concurrency=1, rate_delay_seconds=5),
    # Microsoft's 451 4.7.650 (IP reputation) and S3150 (blocked for now).
    ShapingRule("microsoft-reputation", r"4\.7\.650|\bs3150\b", "microsoft",
                r"(^|\.)(outlook\.com|hotmail\.com)$", "suspend", 3600),
    # Anyone's "421 too many connections": fewer at once.
    ShapingRule("too-many-connections", r"too many (connections|concurrent|sessions)", action="slow",
                seconds=900, concurrency=1),
)


@dataclass(frozen=True)
class ShapingSettings:
    rules: tuple[ShapingRule, ...] = DEFAULT_SHAPING_RULES
    # A slowed pathway climbs back one step (one more connection, half the delay) after each
    # period this long without a matching reply.
    step_seconds: int = 600


def _panel_login_failures() -> AuthFailureSettings:
    return AuthFailureSettings(window_seconds=900, slowdown_after=3, slowdown_seconds=1.0, lockout_after=5,
                               lockout_seconds=900)


@dataclass(frozen=True)
class PanelSettings:
    """The admin panel: served by `relayctl run` (waitress), normally behind a TLS reverse proxy."""

    listen_address: str = "127.0.0.1"
    port: int = 8080
    # Mark cookies Secure (sent over HTTPS only; browsers also send them to http://localhost).
    secure_cookies: bool = True
    # Trust X-Forwarded-For/-Proto from one reverse proxy in front.
    behind_proxy: bool = False
    session_hours: int = 12
    # Failed logins per client address and per username.
    login_failures: AuthFailureSettings = field(default_factory=_panel_login_failures)


@dataclass(frozen=True)
class LinkSettings:
    """The public link service (links/): one-click unsubscribe; served by `relayctl run`, behind
    the TLS proxy."""

    listen_address: str = "127.0.0.1"
    port: int = 8081
    # How recipients reach it: the scheme and host its links start with. Empty: https://<hostname>.
    public_url: str = ""


@dataclass(frozen=True)
class TrackingSettings:
    """Open and click tracking (core/tracking.py), for the domains that have it on."""

    # A message with more links than this, or an HTML part larger, goes out untracked.
    max_links: int = 1000
    max_part_octets: int = 2 * 1024 * 1024
    # How long a tracked link works; after that it answers 404.
    token_days: int = 400
    # An open or click this soon after delivery is a machine's (a link scanner's).
    machine_seconds: int = 10
    # The same link from the same address and browser again this soon is one event.
    repeat_seconds: int = 60


@dataclass(frozen=True)
class ArchiveSettings:
    """The archive of sent messages (core/archive.py), for tenants that keep one."""

    # The longest a tenant may keep its messages; a tenant's own retention is 0 (off) to this.
    max_days: int = 90
    # What a tenant's archive may hold where the tenant has no cap of its own, compressed.
    default_max_mib: int = 1024
    # How often the sweep removes what is older than retention or over the cap.
    sweep_minutes: int = 60


@dataclass(frozen=True)
class SendApiSettings:
    """The HTTP send API (send_api/): served by `relayctl run`, behind the TLS proxy."""

    listen_address: str = "127.0.0.1"
    port: int = 8082


@dataclass(frozen=True)
class IdempotencySettings:
    """Exactly once (core/idempotency.py): how long a key a message was sent under is remembered."""

    window_hours: int = 24


# Where each service serves its Prometheus metrics (core/metrics.py).
DEFAULT_METRICS_PORTS = {"front-end": 9431, "milter": 9432, "intake": 9433, "links": 9434, "send-api": 9435}


@dataclass(frozen=True)
class MetricsSettings:
    """Each service's Prometheus metrics (core/metrics.py), on a loopback port of its own."""

    listen_address: str = "127.0.0.1"
    # Per service (front-end, milter, intake, links, send-api); 0: that service serves none.
    ports: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_METRICS_PORTS))
    # The SHA-256 (hex) of the bearer token a scraper sends; "": none asked.
    token_sha256: str = ""

    def port(self, service: str) -> int:
        return self.ports.get(service, 0)


DEFAULT_DELIVERY_PROFILES = (
    DeliveryProfile("gmail", ("gmail.com", "googlemail.com"), concurrency=10, recipients_per_delivery=100),
    DeliveryProfile("yahoo", ("yahoo.com", "ymail.com", "rocketmail.com", "aol.com"), concurrency=4,
                    recipients_per_delivery=20),
    DeliveryProfile("microsoft", ("outlook.com", "hotmail.com", "live.com", "msn.com"), concurrency=5,
                    recipients_per_delivery=50),
)


@dataclass(frozen=True)
class Settings:
    hostname: str = field(default_factory=lambda: socket.getfqdn().lower())
    state_dir: Path = Path("/var/lib/mailrelay")
    # Empty: an SQLite file in state_dir.
    database_url: str = ""
    # None: state_dir/secret.key, made by `relayctl init`.
    encryption_key_file: Path | None = None
    log_level: str = "INFO"
    # "text", or "json": one JSON object a line (core/logs.py), for a central log store.
    log_format: str = "text"
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    postfix: PostfixSettings = field(default_factory=PostfixSettings)
    dns: DnsSettings = field(default_factory=DnsSettings)
    milter: MilterSettings = field(default_factory=MilterSettings)
    # A tenant's sending limits where the tenant has none of its own (core.limits); 0: no limit.
    limits: Mapping[str, int] = field(default_factory=sending_limits.default_values)
    delivery_profiles: tuple[DeliveryProfile, ...] = DEFAULT_DELIVERY_PROFILES
    shaping: ShapingSettings = field(default_factory=ShapingSettings)
    warmup: WarmupSettings = field(default_factory=WarmupSettings)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    reputation: ReputationSettings = field(default_factory=ReputationSettings)
    panel: PanelSettings = field(default_factory=PanelSettings)
    links: LinkSettings = field(default_factory=LinkSettings)
    tracking: TrackingSettings = field(default_factory=TrackingSettings)
    archive: ArchiveSettings = field(default_factory=ArchiveSettings)
    idempotency: IdempotencySettings = field(default_factory=IdempotencySettings)
    send_api: SendApiSettings = field(default_factory=SendApiSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.state_dir / 'relay.db'}"

    @property
    def effective_encryption_key_file(self) -> Path:
        return self.encryption_key_file or self.state_dir / "secret.key"

    @property
    def postfix_instance_dir(self) -> Path:
        return self.postfix.instance_dir or self.state_dir / "postfix"

    @property
    def tls_cert_file(self) -> Path:
        return self.smtp.tls_cert_file or self.state_dir / "tls" / "relay.crt"

    @property
    def tls_key_file(self) -> Path:
        return self.smtp.tls_key_file or self.state_dir / "tls" / "relay.key"

    @property
    def postfix_reload_request(self) -> Path:
        """Written by a service that is not root to have root render and reload Postfix."""
        return self.state_dir / "postfix-reload.request"

    def directory_loaded_file(self, service: str) -> Path:
        """The directory version a service (front-end, milter) serves now: see core.snapshot_cache."""
        return self.state_dir / "directory" / f"{service}.version"

    @property
    def postfix_queue_helper_socket(self) -> Path:
        """Where a service that is not root asks root to hold, release or delete queued mail."""
        return self.state_dir / "queue-helper.sock"

    @property
    def milter_dir(self) -> Path:
        return self.state_dir / "milter"

    @property
    def milter_socket(self) -> str:
        """Postfix's notation: unix:/path or inet:host:port."""
        return self.milter.socket or f"unix:{self.milter_dir / 'milter.sock'}"

    @property
    def intake_socket(self) -> Path:
        """Where Postfix hands reports for the bounce domain to the intake (LMTP)."""
        return self.state_dir / "intake" / "lmtp.sock"

    @property
    def intake_socketmap(self) -> Path:
        """Where port 25's smtpd asks the intake which return-path domains it takes (intake/socketmap.py)."""
        return self.state_dir / "intake" / "socketmap.sock"

    @property
    def simulator_socket(self) -> Path:
        """Where Postfix delivers mail for the simulator domain (LMTP)."""
        return self.state_dir / "intake" / "simulator.sock"

    @property
    def simulator_domain(self) -> str:
        return self.dns.simulator_domain or f"simulator.{self.hostname}"

    @property
    def bounce_domain(self) -> str:
        return self.dns.bounce_domain or f"bounces.{self.hostname}"

    @property
    def feedback_domain(self) -> str:
        return self.dns.feedback_domain or f"feedback.{self.hostname}"

    @property
    def link_base_url(self) -> str:
        return (self.links.public_url or f"https://{self.hostname}").rstrip("/")

    @property
    def spf_domain(self) -> str:
        return self.dns.spf_domain or f"_spf.{self.hostname}"


T = TypeVar("T")


def _explicit_path(path: Path | None) -> Path | None:
    return path or (Path(os.environ[CONFIG_PATH_ENV]) if os.environ.get(CONFIG_PATH_ENV) else None)


def config_path(path: Path | None = None) -> Path:
    """The file load_settings(path) reads (which may be absent: then every default applies)."""
    return _explicit_path(path) or DEFAULT_CONFIG_PATH


def load_settings(path: Path | None = None) -> Settings:
    """Read the YAML file at path (or $RELAY_CONFIG, or the default path).

    The default path may be absent: then every default applies. A path named
    explicitly must exist.
    """
    explicit = _explicit_path(path)
    chosen = explicit or DEFAULT_CONFIG_PATH
    if not chosen.exists():
        if explicit is not None:
            raise ConfigError(f"configuration file {chosen} does not exist")
        return validate(Settings())
    try:
        raw = yaml.safe_load(chosen.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"configuration file {chosen} is not valid YAML: {exc}") from exc
    return settings_from_mapping(raw)


def settings_from_mapping(raw: object) -> Settings:
    return validate(_build(Settings, raw, ""))


def _build(cls: type[T], raw: object, prefix: str) -> T:
    if not isinstance(raw, dict):
        raise ConfigError(f"setting {prefix or '(top level)'}: expected a mapping")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in raw:
        if key not in known:
            raise ConfigError(f"unknown setting {prefix}{key}")
    values = {key: _coerce(hints[key], value, f"{prefix}{key}") for key, value in raw.items()}
    return cls(**values)


def _coerce(hint: Any, value: object, name: str) -> object:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _coerce(options[0], value, name)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, f"{name}.")  # type: ignore[arg-type]
    if origin is Mapping:
        if not isinstance(value, dict):
            raise ConfigError(f"setting {name}: expected a mapping")
        (_, value_type) = typing.get_args(hint)
        return {str(key): _coerce(value_type, item, f"{name}.{key}") for key, item in value.items()}
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"setting {name}: expected a list")
        (item_type, _) = typing.get_args(hint)
        return tuple(_coerce(item_type, item, name) for item in value)
    if hint is Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"setting {name}: expected a path")
        return Path(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"setting {name}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"setting {name}: expected a whole number, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"setting {name}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"setting {name}: expected text, got {value!r}")
        return value
    raise ConfigError(f"setting {name}: unsupported type {hint}")


def _check_port(name: str, port: int) -> None:
    if not 1 <= port <= 65535:
        raise ConfigError(f"setting {name}: {port} is not a TCP port (1-65535)")


def _check_address(name: str, address: str) -> None:
    try:
        ipaddress.ip_address(address)
    except ValueError as exc:
        raise ConfigError(f"setting {name}: {address!r} is not an IP address") from exc


def _check_shaping(shaping: ShapingSettings) -> None:
    if shaping.step_seconds < 1:
        raise ConfigError("setting shaping.step_seconds: at least 1")
    for n, rule in enumerate(shaping.rules):
        name = f"shaping.rules[{n}]"
        for pattern in (rule.reply, rule.hosts):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(f"setting {name}: {pattern!r} is no regular expression: {exc}") from exc
        if not rule.reply or rule.action not in ("suspend", "slow"):
            raise ConfigError(f"setting {name}: a reply pattern, and action suspend or slow")
        if rule.seconds < 1 or rule.concurrency < 1 or rule.rate_delay_seconds < 0:
            raise ConfigError(f"setting {name}: seconds and concurrency at least 1, "
                              "rate_delay_seconds 0 or more")


def _check_profiles(profiles: tuple[DeliveryProfile, ...]) -> None:
    seen_domains: set[str] = set()
    for n, profile in enumerate(profiles):
        name = f"delivery_profiles[{n}]"
        taken = {p.name for p in profiles[:n]}
        if not re.fullmatch(r"[a-z][a-z0-9]{0,15}", profile.name) or profile.name in taken:
            raise ConfigError(f"setting {name}.name: a unique name of up to 16 lower-case letters and digits")
        for domain in profile.domains:
            if not is_hostname(domain) or domain in seen_domains:
                raise ConfigError(f"setting {name}.domains: {domain!r} is not a domain or is in two profiles")
            seen_domains.add(domain)
        if profile.concurrency < 1 or profile.recipients_per_delivery < 1 or profile.rate_delay_seconds < 0:
            raise ConfigError(f"setting {name}: concurrency and recipients_per_delivery at least 1, "
                              "rate_delay_seconds 0 or more")


def _checked_metrics(metrics: MetricsSettings) -> MetricsSettings:
    try:
        loopback = ipaddress.ip_address(metrics.listen_address).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigError("setting metrics.listen_address: a loopback address (the proxy serves others)")
    ports = {**DEFAULT_METRICS_PORTS, **metrics.ports}
    for service, port in ports.items():
        if service not in DEFAULT_METRICS_PORTS:
            raise ConfigError(f"setting metrics.ports: {service!r} is none of "
                              f"{', '.join(DEFAULT_METRICS_PORTS)}")
        if port:
            _check_port(f"metrics.ports.{service}", port)
    taken = [port for port in ports.values() if port]
    if len(taken) != len(set(taken)):
        raise ConfigError("setting metrics.ports: each service a port of its own")
    if metrics.token_sha256 and not re.fullmatch(r"[0-9a-f]{64}", metrics.token_sha256):
        raise ConfigError("setting metrics.token_sha256: 64 lower-case hex digits (sha256sum of the token)")
    return dataclasses.replace(metrics, ports=ports)


def validate(settings: Settings) -> Settings:
    """Check what types alone cannot: ranges, formats, and settings that must agree."""
    if not is_hostname(settings.hostname):
        raise ConfigError(f"setting hostname: {settings.hostname!r} is not a valid host name")
    if settings.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError("setting log_level: one of DEBUG, INFO, WARNING, ERROR")
    if settings.log_format not in {"text", "json"}:
        raise ConfigError("setting log_format: text or json")
    if settings.milter.redis_unavailable not in {"local", "refuse"}:
        raise ConfigError("setting milter.redis_unavailable: local or refuse")
    smtp = settings.smtp
    _check_address("smtp.listen_address", smtp.listen_address)
    _check_port("smtp.submission_port", smtp.submission_port)
    _check_port("smtp.smtps_port", smtp.smtps_port)
    if smtp.submission_port == smtp.smtps_port:
        raise ConfigError("setting smtp.smtps_port: must differ from smtp.submission_port")
    if smtp.max_message_size < 1024:
        raise ConfigError("setting smtp.max_message_size: at least 1024 bytes")
    if smtp.max_recipients < 1:
        raise ConfigError("setting smtp.max_recipients: at least 1")
    if (smtp.tls_cert_file is None) != (smtp.tls_key_file is None):
        raise ConfigError("setting smtp.tls_key_file: give both tls_cert_file and tls_key_file, or neither")
    for network in smtp.proxy_protocol_from:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError as exc:
            raise ConfigError(f"setting smtp.proxy_protocol_from: {network!r} is no address or "
                              "network") from exc
    failures = smtp.auth_failures
    if not 0 < failures.slowdown_after <= failures.lockout_after:
        raise ConfigError("setting smtp.auth_failures.lockout_after: must be >= slowdown_after >= 1")
    postfix = settings.postfix
    _check_address("postfix.inbound_address", postfix.inbound_address)
    _check_port("postfix.inbound_port", postfix.inbound_port)
    if postfix.mta_sts_port:
        _check_port("postfix.mta_sts_port", postfix.mta_sts_port)
    if postfix.relayhost and not _RELAYHOST.match(postfix.relayhost):
        raise ConfigError(
            f"setting postfix.relayhost: {postfix.relayhost!r} is not host, [host] or [host]:port")
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", postfix.syslog_name):
        raise ConfigError("setting postfix.syslog_name: lower-case letters, digits, - and _")
    try:
        allowed_networks(settings.webhooks.allow_networks)
    except ValueError as exc:
        raise ConfigError(f"setting webhooks.allow_networks: {exc}") from exc
    if settings.dns.pool_check_minutes < 0:
        raise ConfigError("setting dns.pool_check_minutes: 0 (never) or more")
    for server in settings.dns.nameservers:
        _check_address("dns.nameservers", server)
    for address in settings.dns.own_addresses:
        _check_address("dns.own_addresses", address)
    _check_port("dns.nameserver_port", settings.dns.nameserver_port)
    if settings.dns.dmarc_policy not in {"none", "quarantine", "reject"}:
        raise ConfigError("setting dns.dmarc_policy: one of none, quarantine, reject")
    milter_socket = settings.milter.socket
    if milter_socket and not re.fullmatch(r"unix:/\S+|inet:127\.\d+\.\d+\.\d+:\d{1,5}", milter_socket):
        raise ConfigError("setting milter.socket: unix:/path or inet:127.x.y.z:port (loopback only)")
    if settings.milter.redis_url and not settings.milter.redis_url.startswith(("redis://", "unix://")):
        raise ConfigError("setting milter.redis_url: a redis:// or unix:// URL")
    if smtp.processes < 0 or settings.milter.processes < 0:
        raise ConfigError("setting smtp.processes, milter.processes: 0 (from the core count) or more")
    if settings.milter.processes > 1 and not settings.milter.redis_url:
        raise ConfigError("setting milter.processes: more than one needs milter.redis_url, where every "
                          "process keeps the same throttle counters")
    _check_profiles(settings.delivery_profiles)
    _check_shaping(settings.shaping)
    warmup = settings.warmup
    rates = (warmup.max_bounce_rate, warmup.max_deferral_rate, warmup.max_complaint_rate)
    if warmup.step_hours < 1 or warmup.min_outcomes < 0 or not all(0 <= rate <= 1 for rate in rates):
        raise ConfigError("setting warmup: step_hours at least 1, min_outcomes 0 or more, rates 0 to 1")
    tracking = settings.tracking
    if min(tracking.max_links, tracking.max_part_octets, tracking.token_days) < 1 or min(
            tracking.machine_seconds, tracking.repeat_seconds) < 0:
        raise ConfigError("setting tracking: max_links, max_part_octets and token_days at least 1, "
                          "machine_seconds and repeat_seconds 0 or more")
    archive = settings.archive
    if not 1 <= archive.max_days <= 3650 or not 1 <= archive.default_max_mib <= 1024 * 1024 \
            or archive.sweep_minutes < 1:
        raise ConfigError("setting archive: max_days 1 to 3650, default_max_mib and sweep_minutes at least 1")
    _check_address("send_api.listen_address", settings.send_api.listen_address)
    _check_port("send_api.port", settings.send_api.port)
    if not 1 <= settings.idempotency.window_hours <= 24 * 30:
        raise ConfigError("setting idempotency.window_hours: 1 to 720")
    for name, value in settings.limits.items():
        try:
            sending_limits.check(name, value)
        except InvalidInputError as exc:
            raise ConfigError(f"setting limits.{name}: {exc}") from exc
    return dataclasses.replace(settings, limits={**sending_limits.default_values(), **settings.limits},
                               metrics=_checked_metrics(settings.metrics))
