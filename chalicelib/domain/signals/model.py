"""The shipped linear model: a compact binary artifact, lazily loaded once per process, scored in pure Python.

The artifact (``model.bin``, written by ``tools/train_signals.py``) is read without any parsing beyond a
fixed header: an open-addressing hash table of the kept features keyed by their CRC-32 (linear probing,
load factor ≤ 1/3) and, per slot, four int8 weights (complaint word view, complaint char view, sentiment
negative-vs-neutral, positive-vs-neutral). Loading is ``array.frombytes`` on two blocks: a few milliseconds
and a few MB, where the former JSON + dict artifact took 0.2-0.45 s and ~58 MB per cold start.

Layout (little-endian)::

    magic  b"SRSIG3\\0\\0"
    header struct "<I4d3dd2d": slots (power of two), per-head scales (word, char, neg, pos),
           biases (complaint word, complaint char, sentiment neg, sentiment pos: 4 doubles, see _HEADER),
           complaint threshold, complaint view mix (word, char)
    keys   slots × uint32: CRC-32 of the feature string (0 = empty; a CRC of 0 is stored as 1)
    weights slots × 4 × int8, interleaved per slot

Training details and cross-validation figures live beside it in ``model.meta.json`` (read by the eval
tools only, never at run time).
"""

from __future__ import annotations

import math
import struct
import sys
from array import array
from dataclasses import dataclass
from pathlib import Path
from zlib import crc32

from chalicelib.domain.signals.features import features

ARTIFACT = Path(__file__).with_name("model.bin")
META = Path(__file__).with_name("model.meta.json")
MAGIC = b"SRSIG3\0\0"
# slots; scales word, char, neg, pos; bias word, char, neg, pos; threshold; mix word, char
HEADER = struct.Struct("<I4d4dd2d")


@dataclass(frozen=True)
class LinearModel:
    """The decoded artifact: probe table, int8 weights, and the float parameters that de-quantize them."""

    keys: array  # uint32 per slot
    weights: array  # int8, 4 per slot
    mask: int
    scales: tuple[float, float, float, float]  # word view × mix, char view × mix, sentiment neg, pos
    bias: tuple[float, float, float]  # complaint (mixed), sentiment neg, sentiment pos
    threshold: float


def feature_key(feature: str) -> int:
    """The table key of a feature string (shared with the trainer that writes the table)."""
    return crc32(feature.encode("utf-8")) or 1


def load(path: Path = ARTIFACT) -> LinearModel:
    """Read the artifact: a header and two flat arrays (a few ms, once per process)."""
    with open(path, "rb") as fh:  # straight into the arrays: no intermediate copy of the file
        head = fh.read(len(MAGIC) + HEADER.size)
        if head[: len(MAGIC)] != MAGIC or len(head) != len(MAGIC) + HEADER.size:
            raise ValueError(f"{path.name}: not a signals model of this format (retrain with tools/train_signals.py)")
        slots, sw, sc, sn, sp, bw, bc, bn, bp, threshold, mw, mc = HEADER.unpack_from(head, len(MAGIC))
        keys = array("I")
        if keys.itemsize != 4:  # pragma: no cover - every CPython platform we deploy on has a 4-byte unsigned int
            keys = array("L")
        weights = array("b")
        try:
            keys.fromfile(fh, slots)
            weights.fromfile(fh, 4 * slots)
        except (EOFError, ValueError) as exc:  # fewer bytes than the header promises
            raise ValueError(f"{path.name}: truncated (retrain with tools/train_signals.py)") from exc
    if sys.byteorder == "big":  # pragma: no cover - Lambda and dev machines are little-endian
        keys.byteswap()
    if not slots or slots & (slots - 1):
        raise ValueError(f"{path.name}: corrupt header (retrain with tools/train_signals.py)")
    return LinearModel(
        keys=keys,
        weights=weights,
        mask=slots - 1,
        scales=(sw * mw, sc * mc, sn, sp),
        bias=(mw * bw + mc * bc, bn, bp),
        threshold=threshold,
    )


_cached: LinearModel | None = None


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
    keys, weights, mask = m.keys, m.weights, m.mask
    zw = zc = zn = zp = 0  # sums of int8 weights; de-quantized once below
    n_char = n_cue = 0
    for f in feats:
        head = f[0]
        if head == "c":
            n_char += 1
        elif head == "x":
            n_cue += 1
        key = crc32(f.encode("utf-8")) or 1
        slot = key & mask
        while True:
            found = keys[slot]
            if found == key:
                i = 4 * slot
                zw += weights[i]
                zc += weights[i + 1]
                zn += weights[i + 2]
                zp += weights[i + 3]
                break
            if not found:
                break
            slot = (slot + 1) & mask
    # Same length normalization as training: binary features scaled by 1/sqrt(#distinct features), per
    # complaint view (features.view_of: cues "x" count in both views) and over all features for sentiment.
    n_all = len(feats)
    n_word, n_char = n_all - n_char, n_char + n_cue
    sw, sc, sn, sp = m.scales
    b0, b1, b2 = m.bias
    complaint = _sigmoid(
        b0 + (zw * sw / math.sqrt(n_word) if n_word else 0.0) + (zc * sc / math.sqrt(n_char) if n_char else 0.0)
    )
    scale = 1.0 / math.sqrt(n_all) if n_all else 0.0
    # Softmax over (neg, neutral=0, pos) logits.
    ln, lp = b1 + zn * sn * scale, b2 + zp * sp * scale
    top = max(ln, lp, 0.0)
    en, e0, ep = math.exp(ln - top), math.exp(-top), math.exp(lp - top)
    return complaint, (ep - en) / (en + e0 + ep)
