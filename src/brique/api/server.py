"""Serving the app with uvicorn: bounded request headers, and even HTTP-level errors in JSON.

Requests are parsed by httptools (llhttp, in C): h11, uvicorn's pure-Python parser, cost about
0.4 ms of CPU per submission, an eighth of a submission's server time. uvicorn answers a request it
cannot parse with plain text and bounds no request head; `JsonErrorsHttpToolsProtocol` answers
`{"error": …}` (400, or 431 once the request line and headers pass `max_header_bytes`), so every
client sees one error shape.
TLS (and mutual TLS) goes through uvicorn's own ssl options, on this same protocol.
"""

from __future__ import annotations

import json
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from brique.config import Settings

HTTP_ERRORS = {
    431: ("headers_too_large", "request headers too large"),
    400: ("bad_request", "invalid HTTP request"),
}


LINGER_S = 2.0  # after a refusal, how long a client's remaining bytes are read and dropped before closing


class _HeadTooLarge(Exception):
    """Raised from a parser callback: httptools stops and reports it as a parser error."""


class JsonErrorsHttpToolsProtocol(HttpToolsProtocol):
    """httptools' protocol with a bounded request head and JSON errors.

    A head is bounded twice: the URL and each header as the parser completes them, and, for a
    single header that never completes (the parser holds it until its end), the bytes fed while
    the head is still incomplete. Either way at most `limit` plus one read is held.

    A refusal half-closes (the answer, then FIN) and drops what the client still sends until it
    closes or `LINGER_S` passes: closing a socket with unread bytes makes the kernel send a reset,
    which can reach the client before it has read the answer."""

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._limit = config.h11_max_incomplete_event_size or 32_768
        self._in_head = False
        self._head_bytes = 0  # parsed so far of the current head
        self._fed_in_head = 0  # fed while the current head was incomplete
        self._status_hint = 400
        self._refused = False  # answered 400/431: the rest of the connection is drained, then closed

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._head_bytes, self._fed_in_head = True, 0, 0

    def on_url(self, url: bytes) -> None:
        self._grow(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._grow(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def _grow(self, n: int) -> None:
        self._head_bytes += n
        if self._head_bytes > self._limit:
            self._status_hint = 431
            raise _HeadTooLarge

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        began_in_head = self._in_head
        super().data_received(data)
        if self._refused or not self._in_head or self.transport.is_closing():
            return
        self._fed_in_head = (self._fed_in_head if began_in_head else 0) + len(data)
        if self._fed_in_head > self._limit:
            self._status_hint = 431
            self.send_400_response("")

    def send_400_response(self, msg: str) -> None:
        status = self._status_hint
        code, message = HTTP_ERRORS.get(status, HTTP_ERRORS[400])
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        reason = b"Request Header Fields Too Large" if status == 431 else b"Bad Request"
        head = [b"HTTP/1.1 %d %s\r\n" % (status, reason)]
        head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        head += [b"content-type: application/json\r\n", b"content-length: %d\r\n" % len(body),
                 b"connection: close\r\n\r\n"]  # fmt: skip
        self.transport.write(b"".join(head) + body)
        self._refused = True
        if not self.transport.can_write_eof():  # TLS: no half-close
            self.transport.close()
            return
        self.transport.write_eof()  # closed when the client closes (eof_received) or after the linger
        self.loop.call_later(LINGER_S, self.transport.close)


@dataclass(frozen=True)
class ServerTls:
    """HTTPS for the API: a certificate chain and its key; with `client_ca`, mutual TLS (every
    caller must present a certificate that CA signed, or the handshake fails)."""

    cert: Path
    key: Path
    client_ca: Path | None = None

    def uvicorn_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"ssl_certfile": str(self.cert), "ssl_keyfile": str(self.key)}
        if self.client_ca is not None:
            options |= {"ssl_ca_certs": str(self.client_ca), "ssl_cert_reqs": ssl.CERT_REQUIRED}
        return options


def serve(
    app: Any, settings: Settings, tls: ServerTls | None = None, sock: socket.socket | None = None
) -> None:
    """Run `app` on the settings' host and port until interrupted; over HTTPS when `tls` is given.
    With `sock`, on that listening socket instead (workers sharing a port)."""
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level=settings.log_level,
        http=JsonErrorsHttpToolsProtocol, h11_max_incomplete_event_size=settings.max_header_bytes,
        **(tls.uvicorn_options() if tls else {}),
    )  # fmt: skip
    uvicorn.Server(config).run(sockets=[sock] if sock is not None else None)
