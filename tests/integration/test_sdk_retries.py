"""The SDK's retries against a real HTTP server on loopback that answers as a load balancer does
when the replica behind it died mid-request (502, 503, 504).

Pins: `submit_job` retries those with the *same* Idempotency-Key (so the server can answer a repeat
from the first attempt), stops at the first non-retryable answer, and calls made without retries
(most reads) surface the 502 at once. (tests/integration/test_failover.py shows the same through a
real HAProxy with a replica SIGKILLed; a 5xx from the balancer cannot be timed there.)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from brique.sdk import Client
from brique.sdk.errors import ApiConflict, ApiError


class Script:
    """Answers in order (status, body); records each request's method, path and Idempotency-Key."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict]] = []
        self.seen: list[tuple[str, str, str | None]] = []


@pytest.fixture
def lb() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            script.seen.append((self.command, self.path.split("?")[0], self.headers.get("idempotency-key")))
            status, body = script.answers.pop(0)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer  # http.server dispatches on these names

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", script
    server.shutdown()
    server.server_close()


BAD_GATEWAY = {"error": {"code": "bad_gateway", "message": "502 Bad Gateway"}}
SPEC = {"name": "j", "project": "llm", "command": "x", "gpus": 1}


def test_submit_retries_balancer_errors_with_the_same_idempotency_key(lb: tuple[str, Script]) -> None:
    url, script = lb
    script.answers = [(502, BAD_GATEWAY), (503, BAD_GATEWAY), (504, BAD_GATEWAY), (200, {"replayed": True})]
    with Client(url, "brq_test") as c:
        result = c.submit_job(SPEC)
    assert result.replayed is True
    keys = {key for _, _, key in script.seen}
    assert len(script.seen) == 4 and len(keys) == 1 and next(iter(keys)).startswith("sdk-")


def test_submit_stops_at_a_non_retryable_answer(lb: tuple[str, Script]) -> None:
    url, script = lb
    script.answers = [(502, BAD_GATEWAY), (409, {"error": {"code": "conflict", "message": "key reused"}})]
    with Client(url, "brq_test") as c, pytest.raises(ApiConflict):
        c.submit_job(SPEC, idempotency_key="mine")
    assert [key for _, _, key in script.seen] == ["mine", "mine"]


def test_a_call_without_retries_surfaces_the_502(lb: tuple[str, Script]) -> None:
    url, script = lb
    script.answers = [(502, BAD_GATEWAY), (200, {"status": "ok"})]
    with Client(url, "brq_test") as c, pytest.raises(ApiError) as err:
        c.healthz()
    assert err.value.status == 502 and len(script.seen) == 1
