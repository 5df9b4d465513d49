"""Quality and speed figures of the shipped text model, on held-out data only.

Run from the repository root: ``.venv/bin/python tools/eval_signals.py`` (``make eval``).
Writes ``bench/results/eval_signals.json``. Needs ../shared/data (or SHARED_DATA); dev deps: none
beyond the standard library (the metrics are computed here, so nothing is tuned by an eval library).

Every set below was excluded from training in tools/train_signals.py:
- airline complaint: Delta + Virgin America tweets (complaint = negative sentiment);
- twcs: hand-labelled customer-support tweets to many brands (tools/signals_labels.json): the test split
  (stratified by brand group; per-group figures too) and, inside it, the first model's 124-tweet test half;
  the same test split scored by models that never saw the tweet's brand, and never saw its domain (brand group,
  with the airline set for transport): computed at training time (``held_out_reports``), read from model.meta.json;
- VADER ground truth (tweets, Amazon review snippets): Pearson r of sentiment vs mean human rating;
- TweetEval sentiment validation: 3-class macro-F1/accuracy (score < -0.2 neg, > 0.2 pos);
- TweetEval offensive validation: complaint rate on generic tweets (a false-alarm check);
- general negative tweets addressed to no company: the REPORT half of the TweetEval sentiment validation
  negatives (``train_signals.general_negatives``; the other half is trained and tuned on) and the TweetEval
  emotion validation anger/sadness tweets (never trained on): how many are called complaints, and the
  complaint precision / macro-F1 when they are mixed with the twcs test split (tweets to many brands mixed
  with general tweets, as the product is measured from outside);
- new domains (``new_domains_never_trained_on``): the REPORT part (``train_signals.domain_split``) of the hand-labelled
  tweets to or about companies of tools/signals_labels_domains.json (TweetEval, VADER tweets, CrisisLex T6: telecom,
  utilities, tech, games, media, retail, food, transport, ...), alone, per domain, and mixed with the general
  negatives' report half. v6 was trained before these rows were held out: some TweetEval training tweets among them
  were v6 non-complaints, so ``rows_v6_never_trained_on`` gives the figures on the rows v6 never saw. Since v7 the
  TUNE part chooses knobs and threshold (train_signals); the report part is still never trained or tuned on.
- the new training sources of v7 (tools/signals_labels_extra.json, real tweets; tools/signals_synthetic.json,
  SYNTHETIC tweets, training only) are never evaluated on; ``model_trained_on`` / ``model_new_sources`` say what
  the shipped model used.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import train_signals as data  # noqa: E402  (loaders and split definitions: one source of truth)

from chalicelib.domain.signals import analyze, model  # noqa: E402

OUT = ROOT / "bench" / "results" / "eval_signals.json"
SENT_BAND = 0.2


def f1_macro(y_true: list[int], y_pred: list[int]) -> float:
    classes = sorted(set(y_true) | set(y_pred))
    scores = []
    for c in classes:
        tp = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t == c and p == c)
        fp = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t != c and p == c)
        fn = sum(1 for t, p in zip(y_true, y_pred, strict=True) if t == c and p != c)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def pearson(xs: list[float], ys: list[float]) -> float:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    cov = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    vx = sum((x - mx) ** 2 for x in xs) ** 0.5
    vy = sum((y - my) ** 2 for y in ys) ** 0.5
    return cov / (vx * vy)


def complaint_figures(rows: data.Rows) -> dict[str, float]:
    sig = analyze(rows.texts)
    pred = [int(s.complaint) for s in sig]
    acc = sum(int(p == y) for p, y in zip(pred, rows.labels, strict=True)) / len(pred)
    return {
        "n": len(pred),
        "positive_rate": round(sum(rows.labels) / len(pred), 3),
        "predicted_positive_rate": round(sum(pred) / len(pred), 3),
        "macro_f1": round(f1_macro(rows.labels, pred), 4),
        "accuracy": round(acc, 4),
    }


OPENING_HANDLES = re.compile(r"^(\s*[.]?@\w+[:,]?\s*)+")


def as_comments(rows: data.Rows) -> dict[str, object]:
    """The same tweets as comments on the brand's page read them: the opening handles gone. Scored as the pipeline
    reads a comment (``model_text``: addressed to the brand), and as a text addressed to nobody."""
    from chalicelib.domain.classification import model_text
    from chalicelib.domain.models import Mention, MentionKind

    bare = [OPENING_HANDLES.sub("", text) or text for text in rows.texts]
    comments = [
        model_text(
            Mention(
                platform="facebook",
                external_id=str(i),
                kind=MentionKind.COMMENT,
                text=text,
                created_at="2015-02-24T00:00:00Z",
            )
        )
        for i, text in enumerate(bare)
    ]
    read = complaint_figures(data.Rows(comments, rows.labels, rows.weights))
    return {**read, "unaddressed_macro_f1": complaint_figures(data.Rows(bare, rows.labels, rows.weights))["macro_f1"]}


def mixed_with_general(brand: data.Rows, general: list[str]) -> dict[str, float]:
    """Brand tweets plus general negative tweets (all non-complaints): what the outside measure mixes."""
    labels = brand.labels + [0] * len(general)
    pred = [int(s.complaint) for s in analyze(brand.texts + general)]
    precision, recall = data.precision_recall(labels, pred)
    return {
        "n": len(labels),
        "n_general": len(general),
        "macro_f1": round(f1_macro(labels, pred), 4),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
    }


def _v6_trained(item: data.DomainItem) -> bool:
    """Whether the shipped v6 model was trained on this row (as a non-complaint) before the row was held out."""
    if item.source in {f"tweeteval/{task}/train" for task in ("emotion", "irony", "offensive", "hate")}:
        return True
    if item.source == "tweeteval/sentiment/val":
        _, labels = data.tweeteval("sentiment", "val")
        return labels[int(item.ident)] == data.NEG and data.hash_bucket(item.text) < 50
    return False


def new_domains(report: list[data.DomainItem], general: list[str]) -> dict[str, object]:
    """The REPORT part of tools/signals_labels_domains.json: tweets to/about companies of new domains."""
    rows = data.Rows()
    for item in report:
        rows.add(item.text, item.label)
    pred = [int(s.complaint) for s in analyze(rows.texts)]
    precision, recall = data.precision_recall(rows.labels, pred)
    out: dict[str, object] = complaint_figures(rows) | {"precision": round(precision, 4), "recall": round(recall, 4)}
    by_domain = {}
    for domain in sorted({i.domain for i in report}):
        idx = [k for k, i in enumerate(report) if i.domain == domain]
        y, p = [rows.labels[k] for k in idx], [pred[k] for k in idx]
        dp, dr = data.precision_recall(y, p)
        by_domain[domain] = {"n": len(idx), "n_complaint": sum(y), "macro_f1": round(f1_macro(y, p), 4)}
        if sum(y) and sum(p):
            by_domain[domain] |= {"precision": round(dp, 4), "recall": round(dr, 4)}
    out["by_domain"] = by_domain
    unseen = [i for i in report if not _v6_trained(i)]
    urows = data.Rows()
    for item in unseen:
        urows.add(item.text, item.label)
    out["rows_v6_never_trained_on"] = complaint_figures(urows)
    out["mixed_with_general_negatives_report_half"] = mixed_with_general(rows, general)
    return out


def sentiment_class(score: float) -> int:
    return data.NEG if score < -SENT_BAND else data.POS if score > SENT_BAND else data.NEU


def load_cost() -> dict[str, float]:
    """What loading the artifact costs a cold start: seconds (first load, and best of 5) and traced peak bytes."""
    import tracemalloc

    timings = []
    for _ in range(5):
        model.reset_cache()
        start = time.perf_counter()
        model.get()
        timings.append(time.perf_counter() - start)
    model.reset_cache()
    tracemalloc.start()
    model.get()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "model_load_seconds": round(timings[0], 4),
        "model_load_seconds_best_of_5": round(min(timings), 4),
        "model_load_peak_bytes": peak,
    }


def throughput(texts: list[str]) -> float:
    model.get()  # load outside the timing: the per-process cost is reported separately
    # CPU time of this process: one core's worth of work, whatever else the (shared) machine is running.
    start = time.process_time()
    analyze(texts)
    return len(texts) / (time.process_time() - start)


def main() -> None:
    if not data.DATA.is_dir():
        print(f"skipped: evaluation data not found at {data.DATA} (set SHARED_DATA)")
        return
    results: dict[str, object] = {}
    results.update(load_cost())
    results["artifact_bytes"] = model.ARTIFACT.stat().st_size
    results["complaint_threshold"] = model.get().threshold

    held_c, held_s = data.airline_rows(heldout=True)
    results["airline_heldout_complaint"] = complaint_figures(held_c)
    results["airline_heldout_as_comments"] = as_comments(held_c)
    _, test = data.twcs_split()
    results["twcs_crossbrand_complaint_test"] = complaint_figures(data.as_rows(test))
    results["twcs_crossbrand_complaint_test"]["by_group"] = {
        group: complaint_figures(data.as_rows([t for t in test if t.group == group]))
        for group in sorted({t.group for t in test})
    }
    legacy = data.legacy_test_ids()
    results["twcs_crossbrand_complaint_legacy_test_half"] = complaint_figures(
        data.as_rows([t for t in test if t.tweet_id in legacy])
    )
    meta = json.loads(model.META.read_text(encoding="utf-8"))
    results["twcs_training_cross_validation"] = meta.get("cross_validation", {})
    # What the shipped model was trained on (v7: the new sources, the synthetic one named as such) and tuned on
    # (v7: the new-domain TUNE part too; its figure is in twcs_training_cross_validation.new_domains_tune_part).
    for key in ("trained_on", "new_sources", "tuning"):
        if key in meta:
            results[f"model_{key}"] = meta[key]
    # Reporting figures on the test split from models that never saw the tweet's brand / its domain: trained
    # by tools/train_signals.py (held_out_reports), which needs scikit-learn; eval only reads them.
    for key, name in (("brand_held_out", "twcs_test_brand_held_out"), ("domain_held_out", "twcs_test_domain_held_out")):
        if key in meta.get("held_out_reports", {}):
            results[name] = meta["held_out_reports"][key]

    _, general_report = data.general_negatives()
    emo_texts, emo_labels = data.tweeteval("emotion", "val")
    emotion_negative = [t for t, lab in zip(emo_texts, emo_labels, strict=True) if lab in data.EMOTION_NEGATIVE]
    results["general_negative_tweets_complaint_rate"] = {
        name: {"n": len(texts), "rate": round(sum(s.complaint for s in analyze(texts)) / len(texts), 4)}
        for name, texts in (
            ("tweeteval_sentiment_val_negatives_report_half", general_report),
            ("tweeteval_emotion_val_anger_sadness", emotion_negative),
        )
    }
    results["twcs_test_mixed_with_general_negatives"] = mixed_with_general(data.as_rows(test), general_report)
    _, domain_report = data.domain_split()
    results["new_domains_never_trained_on"] = new_domains(domain_report, general_report)

    air_pred = [sentiment_class(s.sentiment) for s in analyze(held_s.texts)]
    results["airline_heldout_sentiment"] = {"macro_f1": round(f1_macro(held_s.labels, air_pred), 4)}

    for kind, key in (("tweets", "vader_tweets"), ("amazonReviewSnippets", "vader_review_snippets")):
        texts, gold = data.vader(kind)
        pred = [s.sentiment for s in analyze(texts)]
        results[f"{key}_sentiment_pearson"] = {"n": len(texts), "r": round(pearson(pred, gold), 4)}

    texts, labels = data.tweeteval("sentiment", "val")
    pred = [sentiment_class(s.sentiment) for s in analyze(texts)]
    acc = sum(int(p == y) for p, y in zip(pred, labels, strict=True)) / len(labels)
    results["tweeteval_sentiment_val"] = {
        "n": len(labels),
        "macro_f1": round(f1_macro(labels, pred), 4),
        "accuracy": round(acc, 4),
    }

    texts, _ = data.tweeteval("offensive", "val")
    rate = sum(s.complaint for s in analyze(texts)) / len(texts)
    results["generic_tweets_complaint_rate"] = {"n": len(texts), "rate": round(rate, 4)}

    bench = (held_c.texts * 3)[:6000]
    results["throughput_mentions_per_s"] = round(throughput(bench))

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(json.dumps(results, indent=2, sort_keys=True))
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
