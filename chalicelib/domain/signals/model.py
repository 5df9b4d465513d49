"""The shipped linear model: lazy, per-process cached loading and scoring in pure Python.

The artifact (``model.json.gz``, written by ``tools/train_signals.py``) holds the kept feature
strings, int8 weights for four linear heads (complaint word view, complaint char view, sentiment
negative-vs-neutral and positive-vs-neutral), per-head scales, biases, the complaint views' mix and the
complaint threshold chosen on held-out data.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
from dataclasses import dataclass
from pathlib import Path

from chalicelib.domain.signals.features import VIEWS, features

ARTIFACT = Path(__file__).with_name("model.json.gz")


@dataclass(frozen=True)
class LinearModel:
    """Feature string -> (complaint word-view, complaint char-view, sentiment-neg, sentiment-pos) weights,
    de-quantized and with the complaint views' mixing weights already folded in."""

    weights: dict[str, tuple[float, float, float, float]]
    bias: tuple[float, float, float]  # complaint (mixed), sentiment neg, sentiment pos
    threshold: float


_cached: LinearModel | None = None


def load(path: Path = ARTIFACT) -> LinearModel:
    """Decode the artifact into a dict (about 0.1-0.2 s, once per process)."""
    doc = json.loads(gzip.decompress(path.read_bytes()))
    names = doc["features"].split("\n")
    raw = base64.b64decode(doc["weights_int8"])
    # int8 stored as unsigned bytes; signed = b - 256 when b > 127.
    signed = [b - 256 if b > 127 else b for b in raw]
    if doc.get("format") != 2 or tuple(doc["views"]) != VIEWS:
        raise ValueError(f"artifact format/views do not match this code (features.VIEWS {VIEWS}): retrain")
    mw, mc = doc["complaint_mix"]
    sw, sc, sn, sp = doc["scales"]
    sw, sc = sw * mw, sc * mc
    weights = {
        name: (signed[4 * i] * sw, signed[4 * i + 1] * sc, signed[4 * i + 2] * sn, signed[4 * i + 3] * sp)
        for i, name in enumerate(names)
    }
    bw, bc, b1, b2 = doc["bias"]
    return LinearModel(weights=weights, bias=(mw * bw + mc * bc, b1, b2), threshold=float(doc["complaint_threshold"]))


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
    zw = zc = zn = zp = 0.0
    n_char = n_cue = 0
    lookup = m.weights.get
    for f in feats:
        head = f[0]
        if head == "c":
            n_char += 1
        elif head == "x":
            n_cue += 1
        w = lookup(f)
        if w is not None:
            zw += w[0]
            zc += w[1]
            zn += w[2]
            zp += w[3]
    # Same length normalization as training: binary features scaled by 1/sqrt(#distinct features), per
    # complaint view (features.view_of: cues "x" count in both views) and over all features for sentiment.
    n_all = len(feats)
    n_word, n_char = n_all - n_char, n_char + n_cue
    b0, b1, b2 = m.bias
    complaint = _sigmoid(
        b0 + (zw / math.sqrt(n_word) if n_word else 0.0) + (zc / math.sqrt(n_char) if n_char else 0.0))
    scale = 1.0 / math.sqrt(n_all) if n_all else 0.0
    # Softmax over (neg, neutral=0, pos) logits.
    ln, lp = b1 + zn * scale, b2 + zp * scale
    top = max(ln, lp, 0.0)
    en, e0, ep = math.exp(ln - top), math.exp(-top), math.exp(lp - top)
    return complaint, (ep - en) / (en + e0 + ep)
