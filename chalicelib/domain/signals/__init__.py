"""Built-in text signals for a social mention: complaint, sentiment, topic and risk flags.

Pure standard library: the linear model is loaded lazily from the package's artifact on first use
and cached per process. See README.md beside this file for data, figures and retraining.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chalicelib.domain.signals import model as _model
from chalicelib.domain.signals.risk import risk_flags
from chalicelib.domain.signals.topics import TOPICS, topic_of

__all__ = ["TOPICS", "TextSignals", "analyze", "analyze_one"]


@dataclass(frozen=True)
class TextSignals:
    """What the text model says about one mention."""

    complaint: bool
    complaint_score: float
    sentiment: float
    topic: str
    risk_flags: frozenset[str]


def analyze_one(text: str) -> TextSignals:
    """Signals for one text (empty or whitespace text gets neutral, non-complaint signals)."""
    text = text or ""
    m = _model.get()
    complaint_score, sentiment = _model.score(text, m)
    flags = risk_flags(text)  # once: the topic rules read the same flags
    return TextSignals(
        complaint=complaint_score >= m.threshold,
        complaint_score=round(complaint_score, 4),
        sentiment=round(max(-1.0, min(1.0, sentiment)), 4),
        topic=topic_of(text, flags),
        risk_flags=flags,
    )


def analyze(texts: Sequence[str]) -> list[TextSignals]:
    """Signals for each text, in order."""
    return [analyze_one(t) for t in texts]
