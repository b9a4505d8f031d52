"""The relay's DIY peer: what a self-hoster builds instead, from Debian's packages alone.

A Postfix instance of its own (`postfix -c <dir>/conf`, never /etc/postfix) with a
submission listener on loopback that demands STARTTLS (smtpd_tls_security_level =
encrypt) and AUTH through Cyrus SASL against a sasldb (sasl2-bin's saslpasswd2), and
OpenDKIM signing relaxed/relaxed with an RSA-2048 key over a Unix socket; it relays to
the given next hop, as the relay does. The benchmarks measure the relay against it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import smtplib
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from core.tls_cert import create_self_signed

USERNAME = "bench"
REALM = "peer.test"
SELECTOR = "peer"


@dataclass(frozen=True)
class Peer:
    root: Path
    port: int
    password: str
    master_pid: int
    opendkim: subprocess.Popen[bytes]

    def connect(self) -> smtplib.SMTP:
        client = smtplib.SMTP("127.0.0.1", self.port, timeout=60)
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        client.starttls(context=context)
        client.login(f"{USERNAME}@{REALM}", self.password)
        return client


def _main_cf(root: Path, port: int, relayhost: str) -> str:
    return f"""compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
syslog_name = diy-peer
maillog_file = {root}/log/postfix.log
maillog_file_prefixes = {root}
myhostname = {REALM}
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.1/32
relayhost = {relayhost}
local_recipient_maps =
alias_maps =
alias_database =
enable_long_queue_ids = yes
smtp_tls_security_level = may
smtpd_tls_cert_file = {root}/tls/cert.pem
smtpd_tls_key_file = {root}/tls/key.pem
smtpd_tls_security_level = encrypt
smtpd_tls_auth_only = yes
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_milters = unix:{root}/opendkim/opendkim.sock
milter_default_action = tempfail
milter_protocol = 6
"""


_MASTER_CF = """127.0.0.1:{port} inet n - n - - smtpd
postlog   unix-dgram n  -       n       -       1       postlogd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
"""


def _opendkim_conf(root: Path, domain: str) -> str:
    return f"""Syslog no
Mode s
Canonicalization relaxed/relaxed
SignatureAlgorithm rsa-sha256
Domain {domain}
Selector {SELECTOR}
KeyFile {root}/opendkim/key.pem
Socket local:{root}/opendkim/opendkim.sock
UMask 0000
UserID postfix
PidFile {root}/opendkim/opendkim.pid
# The benchmark's key lies in a temporary folder under /var/tmp, which others may write.
RequireSafeKeys no
"""


def _write_key(path: Path) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def _wait_for(path: Path, what: str) -> None:
    deadline = time.monotonic() + 30
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not appear at {path}")
        time.sleep(0.1)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def running_peer(root: Path, port: int, relayhost: str, domain: str) -> Iterator[Peer]:
    """The peer under root (which the postfix user must be able to enter), signing for domain
    and relaying to relayhost; stopped afterwards."""
    postfix = pwd.getpwnam("postfix")
    for sub in ("conf/sasl", "queue", "data", "log", "tls", "opendkim"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    os.chown(root / "data", postfix.pw_uid, postfix.pw_gid)
    (root / "conf" / "main.cf").write_text(_main_cf(root, port, relayhost))
    (root / "conf" / "master.cf").write_text(_MASTER_CF.format(port=port))
    create_self_signed(REALM, root / "tls" / "cert.pem", root / "tls" / "key.pem")
    password = os.urandom(12).hex()
    sasldb = root / "conf" / "sasl" / "sasldb2"
    subprocess.run(["saslpasswd2", "-p", "-c", "-f", str(sasldb), "-u", REALM, USERNAME],
                   input=password.encode(), check=True)
    os.chown(sasldb, postfix.pw_uid, postfix.pw_gid)
    # Debian's Postfix reads $config_directory/sasl/smtpd.conf (as /etc/postfix/sasl/ for the main one).
    (root / "conf" / "sasl" / "smtpd.conf").write_text(
        f"pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: {sasldb}\nmech_list: PLAIN LOGIN\n")
    _write_key(root / "opendkim" / "key.pem")
    os.chown(root / "opendkim" / "key.pem", postfix.pw_uid, postfix.pw_gid)
    os.chmod(root / "opendkim" / "key.pem", 0o600)
    os.chown(root / "opendkim", postfix.pw_uid, postfix.pw_gid)
    (root / "opendkim" / "opendkim.conf").write_text(_opendkim_conf(root, domain))
    opendkim = subprocess.Popen(["opendkim", "-f", "-x", str(root / "opendkim" / "opendkim.conf")])
    try:
        _wait_for(root / "opendkim" / "opendkim.sock", "OpenDKIM's socket")
        conf = str(root / "conf")
        started = subprocess.run(["postfix", "-c", conf, "start"], capture_output=True, text=True)
        if started.returncode != 0:
            raise RuntimeError(f"the peer's Postfix did not start: {started.stderr.strip()}")
        try:
            pid_file = root / "queue" / "pid" / "master.pid"
            _wait_for(pid_file, "the peer's master")
            deadline = time.monotonic() + 30
            while not _listening(port):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the peer's Postfix is not listening on {port}")
                time.sleep(0.1)
            yield Peer(root, port, password, int(pid_file.read_text().split()[0]), opendkim)
        finally:
            subprocess.run(["postfix", "-c", conf, "stop"], capture_output=True)
    finally:
        opendkim.terminate()
        opendkim.wait(20)
        shutil.rmtree(root, ignore_errors=True)
