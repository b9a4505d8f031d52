"""A small authoritative DNS server on loopback, answering from a dict, for offline tests."""

from __future__ import annotations

import re
import socket
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset

ZONE_LINE = re.compile(r"^(\S+)\. IN (\S+) (.+)$")


def zone_records(printed: str) -> list[tuple[str, str, str]]:
    """The (name, type, value) of each zone-file line relayctl printed."""
    return [match.groups() for line in printed.splitlines()  # type: ignore[misc]
            if (match := ZONE_LINE.match(line))]


class LoopbackDns:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.records: dict[tuple[str, str], list[str]] = {}
        # True: answers say DNSSEC validated them (the AD flag), as a validating resolver's would.
        self.validated = False
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((host, port))
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._running = True

    def add(self, name: str, rdtype: str, value: str) -> None:
        self.records.setdefault((name.lower().rstrip("."), rdtype.upper()), []).append(value)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and free the port: a socket closed while its thread waits in recvfrom
        stays bound until that call returns, so the thread is woken first."""
        self._running = False
        if self._thread.is_alive():
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as waker:
                waker.sendto(b"", (self.host, self.port))
            self._thread.join(5)
        self._sock.close()

    def _serve(self) -> None:
        while self._running:
            try:
                data, peer = self._sock.recvfrom(4096)
            except OSError:
                return
            if not self._running:
                return
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            if self.validated:
                response.flags |= dns.flags.AD
            question = query.question[0]
            name = question.name.to_text().lower().rstrip(".")
            rdtype = dns.rdatatype.to_text(question.rdtype)
            values = self.records.get((name, rdtype))
            alias = self.records.get((name, "CNAME"))
            if values:
                response.answer.append(dns.rrset.from_text(question.name, 60, "IN", rdtype, *values))
            elif alias:
                # As a resolver answers: the alias, then the records of the name it points at.
                response.answer.append(dns.rrset.from_text(question.name, 60, "IN", "CNAME", alias[0]))
                target = alias[0].lower().rstrip(".")
                if found := self.records.get((target, rdtype)):
                    response.answer.append(dns.rrset.from_text(alias[0], 60, "IN", rdtype, *found))
            elif not any(key[0] == name for key in self.records):
                response.set_rcode(dns.rcode.NXDOMAIN)
            self._sock.sendto(response.to_wire(), peer)

