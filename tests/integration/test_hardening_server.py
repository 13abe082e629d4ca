"""Issue 11 against a real `brique up` (uvicorn): size limits in the JSON error shape, private files."""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import Server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("harden") / "home"
    s = Server(home=home, db_url=f"sqlite:///{home / 'brique.db'}")
    old = os.umask(0)  # the most careless umask: the server must not depend on it
    try:
        s.start()
    finally:
        os.umask(old)
    yield s
    s.stop()


def _json_error(r: httpx.Response, status: int) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    return r.json()["error"]


def test_a_megabyte_authorization_header_is_a_json_431(server: Server) -> None:
    r = httpx.get(f"{server.url}/v1/whoami", headers={"Authorization": "Bearer " + "x" * 1_000_000})
    assert _json_error(r, 431)["code"] == "headers_too_large"
    assert httpx.get(f"{server.url}/healthz").status_code == 200  # and the server is fine


def _raw_reply(port: int, *parts: bytes) -> str:
    """Send `parts` one by one on a fresh connection; the whole reply (the server closes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            for part in parts:
                sock.sendall(part)
        except OSError:  # the server answered and closed before the last part
            pass
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def test_many_headers_past_the_limit_are_a_json_431(server: Server) -> None:
    headers = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"v" * 200) for i in range(200))  # ~44 KB > 32 KiB
    reply = _raw_reply(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
    head, _, body = reply.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 431") and '"code": "headers_too_large"' in body


def test_a_header_that_never_ends_is_cut_off_at_the_limit(server: Server) -> None:
    # one header trickled in 1 KB pieces and never finished: the parser would hold it all
    pieces = [b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: "] + [b"v" * 1024] * 64
    reply = _raw_reply(server.port, *pieces)
    assert reply.startswith("HTTP/1.1 431") and '"code": "headers_too_large"' in reply
    assert httpx.get(f"{server.url}/healthz").status_code == 200


def test_a_malformed_request_is_a_json_400(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        chunks = []
        while chunk := sock.recv(65536):  # the server closes the connection after its answer
            chunks.append(chunk)
        reply = b"".join(chunks).decode()
    head, _, body = reply.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.1 400") and '"code": "bad_request"' in body


def test_bodies_over_the_limit_are_a_json_413_declared_or_chunked(server: Server) -> None:
    auth = {"Authorization": f"Bearer {server.admin_key()}", "Content-Type": "application/json"}
    big = b'{"name": "' + b"x" * (1_048_576 + 10) + b'"}'
    r = httpx.post(f"{server.url}/v1/orgs", content=big, headers=auth)
    assert _json_error(r, 413)["code"] == "too_large"

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b" " * 100_000

    r = httpx.post(f"{server.url}/v1/orgs", content=chunks(), headers=auth)
    assert _json_error(r, 413)["code"] == "too_large"
    ok = httpx.post(f"{server.url}/v1/orgs", json={"name": "acme", "display_name": "x" * 100}, headers=auth)
    assert ok.status_code == 201, ok.text


def test_trace_is_a_405_naming_the_allowed_methods(server: Server) -> None:
    r = httpx.request(
        "TRACE", f"{server.url}/v1/jobs", headers={"Authorization": f"Bearer {server.admin_key()}"}
    )
    _json_error(r, 405)
    assert r.headers["allow"] == "GET, HEAD, POST"


def test_every_file_the_server_writes_is_private_whatever_the_umask(server: Server) -> None:
    assert httpx.get(f"{server.url}/readyz").status_code == 200
    found = {p.name for p in server.home.rglob("*")}
    assert {"brique.db", "admin.key"} <= found
    loose = [
        f"{p} {stat.filemode(p.stat().st_mode)}"
        for p in [server.home, *server.home.rglob("*")]
        if not p.name.startswith("server-")  # the test's own capture of the server's output
        and p.stat().st_mode & 0o777 != (0o700 if p.is_dir() else 0o600)
    ]
    assert loose == []


def test_the_home_is_made_private_even_if_it_existed(tmp_path: Path) -> None:
    from brique.cli.server import private_files

    home = tmp_path / "h"
    home.mkdir(mode=0o755)
    old = os.umask(0o022)
    try:
        private_files(home)
        (home / "f").write_text("x")
        assert home.stat().st_mode & 0o777 == 0o700 and (home / "f").stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)
