"""A small causal language model built offline at start: a word trigram model with back-off, trained
on the docstrings of a fixed list of Python standard-library modules (about 23k words, no download).

It is a real autoregressive model (each word drawn from P(w | previous two words), falling back to
the previous word, then to word frequency), deterministic at temperature 0 and seeded otherwise. Its
output quality is that of a trigram model on API documentation: locally fluent phrases about files,
sockets and arguments, with no meaning and no memory past two words. It exists so that streaming,
routing, limits and metering are exercised by a runtime that generates, not one that echoes.
"""

from __future__ import annotations

import importlib
import inspect
import random
import re
from collections import Counter, defaultdict

CORPUS_MODULES = ("argparse", "asyncio", "collections", "csv", "datetime", "email", "functools", "http.client",
                  "http.server", "json", "logging", "os", "pathlib", "socket", "sqlite3", "string", "subprocess",
                  "threading", "typing", "unittest", "urllib.request", "zipfile")  # fmt: skip
WORD = re.compile(r"[A-Za-z][A-Za-z'-]*|[.,;:]")


def corpus() -> list[str]:
    """Words of the modules' docstrings (module, classes, functions), in a fixed order."""
    words: list[str] = []
    for name in CORPUS_MODULES:
        module = importlib.import_module(name)
        docs = [module.__doc__ or ""]
        for _, obj in sorted(vars(module).items()):
            if (inspect.isclass(obj) or inspect.isfunction(obj)) and getattr(obj, "__module__", "") == name:
                doc = getattr(obj, "__doc__", None)
                docs.append(doc if isinstance(doc, str) else "")
        for doc in docs:
            words += [w.lower() for w in WORD.findall(doc)]
    return words


class TrigramModel:
    def __init__(self, words: list[str]) -> None:
        self.tri: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        self.bi: dict[str, Counter[str]] = defaultdict(Counter)
        self.uni: Counter[str] = Counter(words)
        for a, b, c in zip(words, words[1:], words[2:], strict=False):
            self.tri[(a, b)][c] += 1
            self.bi[b][c] += 1
        self.size = len(words)

    def next_word(self, a: str, b: str, rng: random.Random | None) -> str:
        table = self.tri.get((a, b)) or self.bi.get(b) or self.uni
        if rng is None:  # temperature 0: the most likely word (ties: alphabetical, for determinism)
            return min(table.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        words, counts = zip(*sorted(table.items()), strict=True)
        return rng.choices(words, weights=counts)[0]

    def generate(self, prompt: str, n: int, temperature: float = 0.0, seed: int | None = None) -> list[str]:
        context = [w.lower() for w in WORD.findall(prompt)] or ["the"]
        a, b = [".", *context][-2:]
        rng = random.Random(seed) if temperature > 0 else None
        out = []
        for _ in range(n):
            w = self.next_word(a, b, rng)
            out.append(w)
            a, b = b, w
        return out
