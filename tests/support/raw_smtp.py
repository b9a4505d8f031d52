"""A raw SMTP client over STARTTLS, for hostile input that smtplib would refuse to send."""

from __future__ import annotations

import base64
import socket
import ssl


def plain_auth(username: str, password: str) -> bytes:
    """The AUTH PLAIN command line for these credentials."""
    return b"AUTH PLAIN " + base64.b64encode(f"\0{username}\0{password}".encode())


class RawSession:
    def __init__(self, port: int, context: ssl.SSLContext, timeout: float = 30.0) -> None:
        self.sock: socket.socket = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.file = self.sock.makefile("rb")
        self.reply()
        self.command(b"EHLO raw.test")
        assert self.command(b"STARTTLS").startswith(b"220")
        self.sock = context.wrap_socket(self.sock)
        self.file = self.sock.makefile("rb")
        self.command(b"EHLO raw.test")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> bytes:
        lines = []
        while True:
            line = self.file.readline()
            if not line:
                raise ConnectionError("server closed the connection")
            lines.append(line)
            if line[3:4] != b"-":
                return b"".join(lines)

    def command(self, line: bytes) -> bytes:
        self.sock.sendall(line + b"\r\n")
        return self.reply()

    def login(self, username: str, password: str) -> None:
        assert self.command(plain_auth(username, password)).startswith(b"235")

    def close(self) -> None:
        self.sock.close()
