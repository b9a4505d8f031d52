"""The relay's tables. Schema changes go through alembic (migrations/), never create_all."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from core.states import DkimKeyState, PoolIpState, TenantStatus


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Travels to Postfix as the SASL login (XCLIENT LOGIN=) and back in its log.
    name: Mapped[str] = mapped_column(String(63), unique=True)
    # core.states.TenantStatus
    status: Mapped[str] = mapped_column(String(16), default=TenantStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The tenant's own sending limits by name (core/limits.py); a limit not here is the box
    # default (settings.limits); 0: no limit. Replaced whole, never changed in place.
    limits: Mapped[dict[str, int]] = mapped_column(JSON, default=dict, server_default="{}")
    # None: the shared default pool.
    pool_id: Mapped[int | None] = mapped_column(ForeignKey("ip_pools.id"), default=None)
    # A message whose Message-ID the tenant already sent within the window is answered
    # "already queued" and not sent again (core/idempotency.py).
    once_per_message_id: Mapped[bool] = mapped_column(default=False)
    # How many days its sent messages are kept in the archive (core/archive.py); 0: none are.
    archive_days: Mapped[int] = mapped_column(default=0)
    # The most its archive may hold, compressed; 0: settings.archive.default_max_mib.
    archive_max_mib: Mapped[int] = mapped_column(default=0)

    pool: Mapped[IpPool | None] = relationship()
    credentials: Mapped[list[SmtpCredential]] = relationship(back_populates="tenant")
    domains: Mapped[list[SendingDomain]] = relationship(back_populates="tenant")


class SmtpCredential(Base):
    __tablename__ = "smtp_credentials"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    tenant: Mapped[Tenant] = relationship(back_populates="credentials")


class SendingDomain(Base):
    __tablename__ = "sending_domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(253), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when the DKIM record checked out; only verified domains may send.
    verified_at: Mapped[datetime | None] = mapped_column(default=None)
    last_checked_at: Mapped[datetime | None] = mapped_column(default=None)
    dkim_ok: Mapped[bool] = mapped_column(default=False)
    spf_ok: Mapped[bool] = mapped_column(default=False)
    dmarc_ok: Mapped[bool] = mapped_column(default=False)
    return_path_ok: Mapped[bool] = mapped_column(default=False)
    # Where the published DMARC record asks for aggregate reports; "": it asks for none.
    dmarc_rua: Mapped[str] = mapped_column(String(500), default="")
    # Add one-click unsubscribe (core/unsubscribe.py) to all of the domain's mail, not only to
    # messages that name a list.
    one_click_unsubscribe: Mapped[bool] = mapped_column(default=False)
    # Open and click tracking (core/tracking.py) of the domain's HTML mail; tracking_host_ok: domain
    # verify has seen t.<domain> point at the link host, so its links use that name.
    track_opens: Mapped[bool] = mapped_column(default=False)
    track_clicks: Mapped[bool] = mapped_column(default=False)
    tracking_host_ok: Mapped[bool] = mapped_column(default=False)

    tenant: Mapped[Tenant] = relationship(back_populates="domains")
    dkim_keys: Mapped[list[DkimKey]] = relationship(back_populates="domain")

    @property
    def tracks(self) -> bool:
        return self.track_opens or self.track_clicks


class DkimKey(Base):
    __tablename__ = "dkim_keys"
    __table_args__ = (UniqueConstraint("domain_id", "selector"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("sending_domains.id", ondelete="CASCADE"), index=True)
    selector: Mapped[str] = mapped_column(String(63))
    algorithm: Mapped[str] = mapped_column(String(16))
    # The PEM private key, encrypted with the key in settings.encryption_key_file.
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    # The p= value of the DNS record.
    public_key_b64: Mapped[str] = mapped_column(Text)
    # core.states.DkimKeyState; a retired key's record stays until it is removed.
    state: Mapped[str] = mapped_column(String(16), default=DkimKeyState.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    domain: Mapped[SendingDomain] = relationship(back_populates="dkim_keys")


class IpPool(Base):
    """Outbound addresses that tenants send from; tenants without a pool use the default one."""

    __tablename__ = "ip_pools"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    is_default: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ips: Mapped[list[PoolIp]] = relationship(back_populates="pool", cascade="all, delete-orphan")


class PoolIp(Base):
    __tablename__ = "pool_ips"

    id: Mapped[int] = mapped_column(primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("ip_pools.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(45), unique=True)
    helo_name: Mapped[str] = mapped_column(String(253))
    weight: Mapped[int] = mapped_column(default=100)
    # core.states.PoolIpState; warming caps come from warmup_caps.
    state: Mapped[str] = mapped_column(String(16), default=PoolIpState.ACTIVE)
    # Comma-separated daily caps; warmup_step is the one in force (core/warmup.py moves it on
    # the address's feedback); past the last, no cap.
    warmup_caps: Mapped[str] = mapped_column(String(1000), default="")
    warmup_started: Mapped[datetime | None] = mapped_column(default=None)
    warmup_step: Mapped[int] = mapped_column(default=0)
    warmup_step_since: Mapped[datetime | None] = mapped_column(default=None)
    warmup_note: Mapped[str] = mapped_column(String(255), default="")  # why it moved, or did not
    paused_reason: Mapped[str] = mapped_column(String(255), default="")
    last_checked_at: Mapped[datetime | None] = mapped_column(default=None)
    fcrdns_ok: Mapped[bool] = mapped_column(default=False)
    listed_on: Mapped[str] = mapped_column(String(1000), default="")

    pool: Mapped[IpPool] = relationship(back_populates="ips")


class AcceptedMessage(Base):
    """A message the milter let through (written a moment after its verdict, milter.accepted_record):
    who sent it, as what, to whom. Reports about a message act only on the recipients named here."""

    __tablename__ = "accepted_messages"
    __table_args__ = (Index("ix_accepted_messages_tracked", "tenant_id", "tracked_domain", "at"),)

    message_ref: Mapped[str] = mapped_column(String(16), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    queue_id: Mapped[str] = mapped_column(String(32), default="")
    sender: Mapped[str] = mapped_column(String(320), default="")
    # Lower-cased, one a line.
    recipients: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str] = mapped_column(String(255), default="")
    transport: Mapped[str] = mapped_column(String(64), default="")
    # Whether the milter gave it one-click unsubscribe headers.
    one_click_unsubscribe: Mapped[bool] = mapped_column(default=False)
    # What the app attached (core.message_tags): tags joined by commas, metadata as JSON; "" when none.
    tags: Mapped[str] = mapped_column(String(700), default="")
    metadata_json: Mapped[str] = mapped_column(Text, default="")
    # The sending domain whose tracking the milter applied; "" when untracked. When a person
    # (not a machine, core/engagement.py) first opened it and first clicked a link in it.
    tracked_domain: Mapped[str] = mapped_column(String(253), default="")
    opened_at: Mapped[datetime | None] = mapped_column(default=None)
    clicked_at: Mapped[datetime | None] = mapped_column(default=None)

    tenant: Mapped[Tenant] = relationship()

    def has_recipient(self, address: str) -> bool:
        return address.lower() in self.recipients.split("\n")


class Event(Base):
    """Something that happened that a person may want to know of: a paused address, a bounce, ...

    kind names it (ip_paused, ...); subject is what it happened to (an address, a message
    ref); tenant_id is set when it concerns one tenant.
    """

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True,
                                                  default=None)
    subject: Mapped[str] = mapped_column(String(255), default="", index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    # What ties the events of one message together: the VERP message ref (the milter's, in the
    # return-path), Postfix's queue id and the Message-ID header; empty where unknown.
    message_ref: Mapped[str] = mapped_column(String(16), default="", index=True)
    queue_id: Mapped[str] = mapped_column(String(32), default="", index=True)
    message_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id", ondelete="SET NULL"), default=None)


class EventCount(Base):
    """Events counted per hour, tenant and kind as they are recorded, so that the dashboard
    reads a few hundred rows however many events there are. tenant_id 0: no tenant."""

    __tablename__ = "event_counts"

    hour: Mapped[datetime] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(default=0)


class Report(Base):
    """A bounce, complaint or auto-reply as it arrived, kept for the panel (shown as text only)."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True,
                                                  default=None)
    envelope_recipient: Mapped[str] = mapped_column(String(320))
    # The message as it arrived, decoded as UTF-8 with replacement, cut at MAX_KEPT_REPORT.
    raw: Mapped[str] = mapped_column(Text)
    truncated: Mapped[bool] = mapped_column(default=False)


class PanelUser(Base):
    """Someone who logs in to the panel: an admin, or a tenant user who sees one tenant only."""

    __tablename__ = "panel_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # admin, tenant
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    # A panel session is good while it carries this number: logging out or a new password
    # raises it, which ends every session of the user, copied cookies included.
    session_generation: Mapped[int] = mapped_column(default=0)

    tenant: Mapped[Tenant | None] = relationship()


class ApiToken(Base):
    """A token for the JSON API, acting as its user; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("panel_users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)

    user: Mapped[PanelUser] = relationship()


class Suppression(Base):
    """An address mail is not sent to: for one tenant, or (tenant_id None) for every tenant; for
    all its mail, or (list_name) for the mail of one of its lists only."""

    __tablename__ = "suppressions"
    __table_args__ = (UniqueConstraint("tenant_id", "address", "list_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True,
                                                  default=None)
    address: Mapped[str] = mapped_column(String(320), index=True)
    # "": all of the tenant's mail.
    list_name: Mapped[str] = mapped_column(String(64), default="")
    # hard_bounce, complaint, manual, unsubscribe
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LogPosition(Base):
    """How far the Postfix log tailer has read, saved with the events it wrote from it.

    pending holds, as JSON, what the tailer knows of messages still in the queue
    (tenant and message-id by queue id), so a restart loses none of it.
    """

    __tablename__ = "log_positions"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(1000), unique=True)
    inode: Mapped[int] = mapped_column(default=0)
    offset: Mapped[int] = mapped_column(default=0)
    pending: Mapped[str] = mapped_column(Text, default="{}")


class Webhook(Base):
    """Where a tenant wants its events, signed with a secret (stored encrypted) it was shown once."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tenant: Mapped[Tenant] = relationship()


class WebhookDelivery(Base):
    """The outbox: one event for one webhook, until the receiver answers 2xx."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Set when the receiver answered 2xx, or when retrying was given up (last_error says why).
    finished_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    last_error: Mapped[str] = mapped_column(String(500), default="")


class SendKey(Base):
    """A key of a tenant's for the HTTP send API: it can only send, as that tenant; only its
    SHA-256 is stored."""

    __tablename__ = "send_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # None: the key stands until revoked.
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)

    tenant: Mapped[Tenant] = relationship()


class IdempotencyRecord(Base):
    """A key a tenant sent under, and the answer its send got (core/idempotency.py)."""

    __tablename__ = "idempotency_records"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(320), primary_key=True)
    # What was sent under the key, to tell a repeat from a different request under the same key.
    fingerprint: Mapped[str] = mapped_column(String(64), default="")
    # "" while the send that claimed the key has not finished; then what it answered.
    answer: Mapped[str] = mapped_column(Text, default="")
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class BoxRecordCheck(Base):
    """What the last `relayctl dns` of a box found for each record it must publish (core/box_records)."""

    __tablename__ = "box_record_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    box: Mapped[str] = mapped_column(String(253), index=True)
    name: Mapped[str] = mapped_column(String(253))
    type: Mapped[str] = mapped_column(String(8))
    expected: Mapped[str] = mapped_column(Text)
    found: Mapped[str] = mapped_column(Text)
    ok: Mapped[bool] = mapped_column()
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)


class DirectoryVersion(Base):
    """One row whose counter rises on every change the running services cache.

    Services poll this single value and reload their caches when it moves, so
    the hot path never queries the database.
    """

    __tablename__ = "directory_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=0)


class DmarcReport(Base):
    """A DMARC aggregate report a receiver sent about one of the tenants' domains
    (core/dmarc_aggregate.py, intake/receiver_reports.py)."""

    __tablename__ = "dmarc_reports"
    __table_args__ = (UniqueConstraint("domain_id", "org_name", "report_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("sending_domains.id", ondelete="CASCADE"), index=True)
    org_name: Mapped[str] = mapped_column(String(255))
    reporter_email: Mapped[str] = mapped_column(String(255))
    report_id: Mapped[str] = mapped_column(String(255))  # the reporter's
    begin_at: Mapped[datetime | None] = mapped_column(default=None)
    end_at: Mapped[datetime | None] = mapped_column(default=None)
    # What the domain published, as the receiver read it: "p=reject sp=none pct=100 adkim=r aspf=r".
    policy: Mapped[str] = mapped_column(String(255))
    # The report's mail carried a valid DKIM signature of its From domain: not made up by anyone.
    signed: Mapped[bool] = mapped_column(default=False)


class DmarcReportRow(Base):
    """Mail from one source address, as the receiver judged it, in one aggregate report."""

    __tablename__ = "dmarc_report_rows"

    id: Mapped[int] = mapped_column(primary_key=True)
    dmarc_report_id: Mapped[int] = mapped_column(ForeignKey("dmarc_reports.id", ondelete="CASCADE"),
                                                 index=True)
    source_ip: Mapped[str] = mapped_column(String(45))
    # The source address's PTR name when the intake looked it up; "": none, or not looked up.
    ptr: Mapped[str] = mapped_column(String(253), default="")
    messages: Mapped[int] = mapped_column()
    disposition: Mapped[str] = mapped_column(String(16))
    dkim: Mapped[str] = mapped_column(String(16))  # DMARC's verdict: an aligned signature passed
    spf: Mapped[str] = mapped_column(String(16))
    header_from: Mapped[str] = mapped_column(String(253))
    # The raw results: "dkim example.com pass; spf bounces.example.net fail".
    auth_results: Mapped[str] = mapped_column(Text)


class TlsReportEntry(Base):
    """One policy's part of an SMTP TLS report (RFC 8460) a sender sent about a domain the box
    receives mail for (core/tls_report.py)."""

    __tablename__ = "tls_report_entries"
    __table_args__ = (UniqueConstraint("org_name", "report_id", "domain", "policy_type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # The tenant whose sending domain the policy is for; None: one of the box's own domains.
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True,
                                                  default=None)
    org_name: Mapped[str] = mapped_column(String(255))
    report_id: Mapped[str] = mapped_column(String(255))
    begin_at: Mapped[datetime | None] = mapped_column(default=None)
    end_at: Mapped[datetime | None] = mapped_column(default=None)
    domain: Mapped[str] = mapped_column(String(253), index=True)
    policy_type: Mapped[str] = mapped_column(String(32))
    successes: Mapped[int] = mapped_column()
    failures: Mapped[int] = mapped_column()
    # [{"result_type", "receiving_mx", "sending_ip", "sessions"}, ...]
    failure_details: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    signed: Mapped[bool] = mapped_column(default=False)


class PathwayState(Base):
    """A pathway (a delivery transport: an outbound address, per delivery profile) that a
    receiver's replies suspended or slowed (core/shaping.py); no row: it sends as configured.
    Shared by every box: each renders its Postfix from these rows."""

    __tablename__ = "pathway_states"

    transport: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # core.shaping: suspended or slowed
    rule: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)  # the reply that set it
    since: Mapped[datetime] = mapped_column(default=utcnow)
    # Suspended: until then. Slowed: the next step back towards the profile's own limits.
    until: Mapped[datetime] = mapped_column()
    concurrency: Mapped[int] = mapped_column()
    rate_delay_seconds: Mapped[int] = mapped_column()
    hits: Mapped[int] = mapped_column(default=1)
    # Suspended by a rule that sends new mail from the pool's other addresses meanwhile.
    reroute: Mapped[bool] = mapped_column(default=False)


class ArchivedMessage(Base):
    """A sent message as it left the relay, signed (core/archive.py): compressed and encrypted
    with a key derived from the box's key. Subject, sender, recipients and tags stay readable
    for search."""

    __tablename__ = "archived_messages"
    # A search reads one time range newest first: subject is in the index, so a range is read
    # without the table.
    __table_args__ = (Index("ix_archived_messages_tenant_at", "tenant_id", "at", "subject"),
                      Index("ix_archived_messages_at", "at", "subject"))

    message_ref: Mapped[str] = mapped_column(String(16), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    sender: Mapped[str] = mapped_column(String(320), default="")
    # Lower-cased, one a line.
    recipients: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str] = mapped_column(String(255), default="")
    tags: Mapped[str] = mapped_column(String(700), default="")
    # The message's size as sent, and as stored.
    size: Mapped[int] = mapped_column(default=0)
    stored_size: Mapped[int] = mapped_column(default=0)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class ArchivedRecipient(Base):
    """Each recipient of an archived message, for the archive's search by address."""

    __tablename__ = "archived_recipients"
    __table_args__ = (Index("ix_archived_recipients_address_at", "address", "at"),)

    message_ref: Mapped[str] = mapped_column(
        ForeignKey("archived_messages.message_ref", ondelete="CASCADE"), primary_key=True)
    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
