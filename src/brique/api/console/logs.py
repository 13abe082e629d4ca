"""A job's log, live: server-sent events the job page's script appends as they come.

Each event carries the bytes after an offset (its SSE id, so a reconnecting browser resumes with
`Last-Event-ID` and loses or repeats nothing); `state` says the job moved (the page reloads for its
events); `end` says the attempt is over. A stream lasts at most `STREAM_S`, then the browser's
EventSource reconnects on its own: no request is held forever.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from brique.api import deps
from brique.api.console.web import ConsoleRoute, SignedIn, Viewer
from brique.services.jobs import JobService

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)
POLL_S = 1.0
STREAM_S = 300.0
CHUNK = 65_536


@router.get("/jobs/{job_id}/log/stream", operation_id="consoleJobLogStream")
async def log_stream(
    request: Request, job_id: str, viewer: SignedIn,
    offset: Annotated[int, Query(ge=0, le=1 << 40)] = 0,
    state: Annotated[str | None, Query(max_length=20, description="the state the page shows")] = None,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:  # fmt: skip
    start = int(last_event_id) if last_event_id and last_event_id.isdigit() else offset
    jobs = deps.job_service(request)
    first, done = await run_in_threadpool(jobs.logs, viewer.who, job_id, start)  # refusals answer here, not mid-stream
    events = _events(request, jobs, viewer, job_id, start, first, done, state)
    return StreamingResponse(events, media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})  # fmt: skip


async def _events(
    request: Request, jobs: JobService, viewer: Viewer, job_id: str, offset: int, data: bytes, done: bool,
    seen: str | None,
) -> AsyncIterator[str]:  # fmt: skip
    """`seen`: the state the page shows (None: the first reading); a move from it, even one made
    before the stream opened, is a `state` event."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STREAM_S
    yield "retry: 2000\n\n"
    while True:
        for i in range(0, len(data), CHUNK):
            piece = data[i : i + CHUNK]
            offset += len(piece)
            yield f"id: {offset}\ndata: {json.dumps(piece.decode('utf-8', errors='replace'))}\n\n"
        now = (await run_in_threadpool(jobs.get, viewer.who, job_id))[0].state.value
        if seen is not None and now != seen:
            yield f"event: state\ndata: {json.dumps(now)}\n\n"
        seen = now
        if done:
            yield "event: end\ndata: {}\n\n"
            return
        if loop.time() > deadline or await request.is_disconnected():
            return
        await asyncio.sleep(POLL_S)
        data, done = await run_in_threadpool(jobs.logs, viewer.who, job_id, offset)
