"""The shipped linear model: lazy, per-process cached loading and scoring in pure Python.

The artifact (``model.json.gz``, written by ``tools/train_signals.py``) holds the kept feature
strings, int8 weights for three linear heads (complaint, sentiment negative-vs-neutral and
positive-vs-neutral), per-head scales, biases and the complaint threshold chosen on held-out data.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
from dataclasses import dataclass
from pathlib import Path

from chalicelib.domain.signals.features import features

ARTIFACT = Path(__file__).with_name("model.json.gz")


@dataclass(frozen=True)
class LinearModel:
    """Feature string -> (complaint, sentiment-neg, sentiment-pos) weights, already de-quantized."""

    weights: dict[str, tuple[float, float, float]]
    bias: tuple[float, float, float]
    threshold: float


_cached: LinearModel | None = None


def load(path: Path = ARTIFACT) -> LinearModel:
    """Decode the artifact into a dict (about 0.1-0.2 s, once per process)."""
    doc = json.loads(gzip.decompress(path.read_bytes()))
    names = doc["features"].split("\n")
    raw = base64.b64decode(doc["weights_int8"])
    sc, sn, sp = doc["scales"]
    # int8 stored as unsigned bytes; signed = b - 256 when b > 127.
    signed = [b - 256 if b > 127 else b for b in raw]
    weights = {
        name: (signed[3 * i] * sc, signed[3 * i + 1] * sn, signed[3 * i + 2] * sp)
        for i, name in enumerate(names)
    }
    b0, b1, b2 = doc["bias"]
    return LinearModel(weights=weights, bias=(b0, b1, b2), threshold=float(doc["complaint_threshold"]))


def get() -> LinearModel:
    """The process-wide model, loaded on first use (keeps Lambda cold start cheap for other paths)."""
    global _cached
    if _cached is None:
        _cached = load()
    return _cached


def reset_cache() -> None:
    """Forget the cached model (used after retraining within one process)."""
    global _cached
    _cached = None


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def score(text: str, model: LinearModel | None = None) -> tuple[float, float]:
    """(complaint probability, sentiment P(pos) - P(neg)) for one text."""
    m = model or get()
    feats = set(features(text))
    zc = zn = zp = 0.0
    lookup = m.weights.get
    for f in feats:
        w = lookup(f)
        if w is not None:
            zc += w[0]
            zn += w[1]
            zp += w[2]
    # Same length normalization as training: binary features scaled by 1/sqrt(#distinct features).
    scale = 1.0 / math.sqrt(len(feats)) if feats else 0.0
    b0, b1, b2 = m.bias
    complaint = _sigmoid(b0 + zc * scale)
    # Softmax over (neg, neutral=0, pos) logits.
    ln, lp = b1 + zn * scale, b2 + zp * scale
    top = max(ln, lp, 0.0)
    en, e0, ep = math.exp(ln - top), math.exp(-top), math.exp(lp - top)
    return complaint, (ep - en) / (en + e0 + ep)
