"""v7's new complaint sources (tools/signals_labels_extra.json, tools/signals_synthetic.json) and v9's second
synthetic file (tools/signals_synthetic_v9.json, off by default): no held-out row, nor a near-duplicate of one, ever
reaches training from them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import train_signals  # noqa: E402

needs_data = pytest.mark.skipif(not train_signals.DATA.is_dir(), reason="shared data not present")


def _held_out_texts() -> dict[str, list[str]]:
    """Every set that is reported on or chooses knobs, by name (texts)."""
    tune, report = train_signals.domain_split()
    general_tune, general_report = train_signals.general_negatives()
    twcs_train, twcs_test = train_signals.twcs_split()
    emotion, _ = train_signals.tweeteval("emotion", "val")
    offensive, _ = train_signals.tweeteval("offensive", "val")
    airline, _ = train_signals.airline_rows(heldout=True)
    return {
        "domain tune part": [i.text for i in tune],
        "domain report part": [i.text for i in report],
        "general negatives report half": general_report,
        "general negatives tune half": general_tune,
        "twcs test split": [t.text for t in twcs_test],
        "twcs training split": [t.text for t in twcs_train],
        "tweeteval emotion val": emotion[:50],
        "tweeteval offensive val": offensive[:50],
        "airline held out": airline.texts[:50],
    }


def _point_at(
    monkeypatch, tmp_path: Path, extra: object | None, synthetic: object | None, synthetic_v9: object | None = None
) -> None:
    for name, content in (("EXTRA_LABELS", extra), ("SYNTHETIC", synthetic), ("SYNTHETIC_V9", synthetic_v9)):
        path = tmp_path / f"{name}.json"
        if content is not None:
            path.write_text(json.dumps(content), encoding="utf-8")
        monkeypatch.setattr(train_signals, name, path)


def test_absent_files_give_no_rows(monkeypatch, tmp_path) -> None:
    _point_at(monkeypatch, tmp_path, None, None)
    assert train_signals.extra_rows() == []
    assert train_signals.synthetic_rows() == []
    assert train_signals.synthetic_v9_rows() == []


def test_new_rows_follow_their_domain_out_of_domain_held_out_fits() -> None:
    groups = train_signals.row_group_of(
        [
            "twcs:telecom",
            "followup:tech",
            "extra:telecom",
            "synth:tech",
            "synth9:food",
            "generic",
            "airline",
            "general:food",
        ]
    )
    assert groups == ["telecom", "tech", "telecom", "tech", "food", "", "", ""]
    assert train_signals.DOMAIN_GROUP["games"] == "tech" and train_signals.DOMAIN_GROUP["apparel"] == "retail"
    assert train_signals.DOMAIN_GROUP["electronics"] == "tech"


@needs_data
def test_extra_rows_drop_held_out_sources_and_ids(monkeypatch, tmp_path) -> None:
    tune, report = train_signals.domain_split()
    held = [{"source": i.source, "id": i.ident, "label": i.label, "domain": i.domain} for i in tune[:5] + report[:5]]
    held += [  # validation tweets are read by make eval (general negatives, emotion / offensive rates)
        {"source": f"tweeteval/{task}/val", "id": str(k), "label": 1, "domain": "tech"}
        for task in ("sentiment", "emotion", "offensive")
        for k in range(3)
    ]
    emotion, _ = train_signals.tweeteval("emotion", "train")
    keys, texts = train_signals.heldout_keys()
    fine = [
        k
        for k in range(len(emotion))
        if ("tweeteval/emotion/train", str(k)) not in keys and train_signals._norm(emotion[k]) not in texts
    ][:4]
    ok = [{"source": "tweeteval/emotion/train", "id": str(k), "label": 1, "domain": "telecom"} for k in fine]
    _point_at(monkeypatch, tmp_path, {"rows": held + ok}, None)
    rows = train_signals.extra_rows()
    assert sorted(r.origin for r in rows) == sorted(f"extra:tweeteval/emotion/train:{k}" for k in fine)
    assert all(r.label == 1 and r.domain == "telecom" for r in rows)


@needs_data
def test_synthetic_rows_drop_held_out_texts_and_near_duplicates(monkeypatch, tmp_path) -> None:
    sets = _held_out_texts()
    leaked = []
    for name, texts in sets.items():
        for text in texts[:8]:
            leaked.append({"text": text, "label": 1, "domain": "tech", "from": name})
            # a near-duplicate: other hashtags and handles, other case and punctuation
            leaked.append({"text": "@someone " + text.upper() + "!!! #newtag", "label": 0, "domain": "tech"})
    fresh = [
        {"text": "@zapnet my fibre box has blinked red since friday and nobody at zapnet picks up", "label": 1},
        {"text": "big thanks to the zapnet engineer who came out on a sunday", "label": 0, "domain": "telecom"},
    ]
    _point_at(monkeypatch, tmp_path, None, leaked + fresh)
    rows = train_signals.synthetic_rows()
    assert sorted(r.text for r in rows) == sorted(r["text"] for r in fresh)
    assert {r.origin for r in rows} == {"synthetic"}


@needs_data
def test_synthetic_v9_rows_drop_held_out_texts_and_rows_of_the_first_file(monkeypatch, tmp_path) -> None:
    twcs_train, _ = train_signals.twcs_split()
    first = [{"text": "@zapnet my fibre box has blinked red since friday and nobody picks up", "label": 1}]
    second = [
        {"text": "@ZAPNET my fibre box has blinked red since Friday, and nobody picks up!! #fail", "label": 1},
        {"text": twcs_train[0].text, "label": 1, "domain": "tech"},
        {"text": "@zapnet thanks for the quick fix on sunday", "label": 0, "domain": "telecom"},
    ]
    _point_at(monkeypatch, tmp_path, None, first, second)
    rows = train_signals.synthetic_v9_rows()
    assert [r.text for r in rows] == ["@zapnet thanks for the quick fix on sunday"]


@needs_data
def test_no_held_out_row_reaches_training_from_the_new_sources(monkeypatch) -> None:
    """With the committed files (whatever they hold) switched on, the complaint training rows hold no held-out
    text: not the new-domain rows (tune or report part), the general negatives' report half, the twcs test split,
    the held-out airlines, nor a TweetEval validation tweet."""
    if not (train_signals.EXTRA_LABELS.is_file() or train_signals.SYNTHETIC.is_file()):
        pytest.skip("no new-source file committed yet")
    monkeypatch.setenv("EXTRA_W", "1")
    monkeypatch.setenv("SYNTH_W", "1")
    monkeypatch.setenv("SYNTH9_W", "1")
    twcs_train, twcs_test = train_signals.twcs_split()
    rows, source, brands = train_signals.complaint_rows(twcs_train)
    assert len(rows.texts) == len(source) == len(brands)
    new = [
        train_signals._norm(t)
        for t, s in zip(rows.texts, source, strict=True)
        if s.startswith(("extra:", "synth:", "synth9:"))
    ]
    assert new, "the files are switched on but gave no training row"
    sets = _held_out_texts()
    forbidden = {name: {train_signals._norm(t) for t in texts} for name, texts in sets.items()}
    emotion, _ = train_signals.tweeteval("emotion", "val")
    offensive, _ = train_signals.tweeteval("offensive", "val")
    sentiment, _ = train_signals.tweeteval("sentiment", "val")
    forbidden["tweeteval validation"] = {train_signals._norm(t) for t in emotion + offensive + sentiment}
    airline, _ = train_signals.airline_rows(heldout=True)
    forbidden["airline held out"] = {train_signals._norm(t) for t in airline.texts}
    for name, keys in forbidden.items():
        assert not [t for t in new if t in keys], name
