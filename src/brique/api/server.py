"""Serving the app with uvicorn: bounded request headers, and even HTTP-level errors in JSON.

uvicorn's h11 protocol answers a request it cannot parse (bad syntax, or headers beyond
`h11_max_incomplete_event_size`) with plain text; this subclass answers `{"error": …}` with
h11's own status hint (431 for headers too large), so every client sees one error shape.
TLS (and mutual TLS) goes through uvicorn's own ssl options, on this same protocol.
"""

from __future__ import annotations

import json
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from brique.config import Settings

HTTP_ERRORS = {
    431: ("headers_too_large", "request headers too large"),
    400: ("bad_request", "invalid HTTP request"),
}


class _Connection(h11.Connection):
    """h11's connection, remembering the status its last protocol error suggests."""

    status_hint = 400

    def next_event(self) -> Any:
        try:
            return super().next_event()
        except h11.RemoteProtocolError as exc:
            self.status_hint = exc.error_status_hint
            raise


class JsonErrorsH11Protocol(H11Protocol):
    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.conn = _Connection(h11.SERVER, config.h11_max_incomplete_event_size)

    def send_400_response(self, msg: str) -> None:
        status = self.conn.status_hint if isinstance(self.conn, _Connection) else 400
        code, message = HTTP_ERRORS.get(status, HTTP_ERRORS[400])
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        headers = [(b"content-type", b"application/json"), (b"connection", b"close"),
                   (b"content-length", str(len(body)).encode())]  # fmt: skip
        self.transport.write(self.conn.send(h11.Response(status_code=status, headers=headers)) or b"")
        self.transport.write(self.conn.send(h11.Data(data=body)) or b"")
        self.transport.close()


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
        http=JsonErrorsH11Protocol, h11_max_incomplete_event_size=settings.max_header_bytes,
        **(tls.uvicorn_options() if tls else {}),
    )  # fmt: skip
    uvicorn.Server(config).run(sockets=[sock] if sock is not None else None)
