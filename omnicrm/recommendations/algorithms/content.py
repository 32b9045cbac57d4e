"""Content similarity for cold-start products: TF-IDF cosine over title + category path.

Tokens: lower-cased, accent-folded words (so "cà phê" matches "ca phe", "đ" folds to "d"), and
for CJK text, which has no spaces, overlapping character bigrams (plus the lone character of a
one-character run), the usual trick for Chinese search without a dictionary. Weights are
sublinear tf (1 + log tf) x smoothed idf (log((1 + N) / (1 + df)) + 1), rows L2-normalized,
so the dot product of two rows is their cosine.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from omnicrm.recommendations.algorithms._topk import topk_sparse_rows

# CJK unified ideographs (+ extension A), Hiragana, Katakana, Hangul syllables.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+")
_CJK_RUN = re.compile(rf"^[{_CJK}]+$")
# Chunk of rows multiplied at once: bounds memory when a common word links many products.
_CHUNK = 2000


def fold(text: str) -> str:
    """Lower-case and strip accents (NFKD, drop combining marks; đ/Đ become d)."""
    text = text.lower().replace("đ", "d")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokenize(text: str) -> list[str]:
    """Folded word tokens, CJK runs as character bigrams."""
    out: list[str] = []
    for tok in _TOKEN.findall(fold(text)):
        if _CJK_RUN.match(tok):
            if len(tok) == 1:
                out.append(tok)
            else:
                out.extend(tok[i : i + 2] for i in range(len(tok) - 1))
        else:
            out.append(tok)
    return out


def tfidf_matrix(texts: Sequence[str]) -> sp.csr_matrix:
    """Documents x vocabulary TF-IDF matrix with L2-normalized rows (empty text: zero row)."""
    vocab: dict[str, int] = {}
    indptr = [0]
    indices: list[int] = []
    counts: list[float] = []
    for text in texts:
        tf: dict[int, int] = {}
        for tok in tokenize(text or ""):
            col = vocab.setdefault(tok, len(vocab))
            tf[col] = tf.get(col, 0) + 1
        indices.extend(tf.keys())
        counts.extend(float(v) for v in tf.values())
        indptr.append(len(indices))
    n_docs = len(texts)
    T = sp.csr_matrix(
        (np.asarray(counts, dtype=np.float64), np.asarray(indices, dtype=np.int64), indptr),
        shape=(n_docs, len(vocab)),
    )
    if T.nnz == 0:
        return T
    df = np.bincount(T.indices, minlength=T.shape[1])
    idf = np.log((1.0 + n_docs) / (1.0 + df)) + 1.0
    T.data = (1.0 + np.log(T.data)) * idf[T.indices]
    norms = np.sqrt(np.asarray(T.multiply(T).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ T)


def content_weights(texts: Sequence[str], *, k: int = 20) -> sp.csr_matrix:
    """Item x item cosine of the TF-IDF rows of ``texts``, top-``k`` per row, no diagonal."""
    if k < 1:
        raise ValueError("k must be >= 1")
    T = tfidf_matrix(texts)
    n = T.shape[0]
    if T.nnz == 0:
        return sp.csr_matrix((n, n), dtype=np.float32)
    TT = T.T.tocsr()
    blocks = []
    for start in range(0, n, _CHUNK):
        coo = sp.coo_matrix(T[start : start + _CHUNK] @ TT)
        off_diag = coo.row + start != coo.col
        block = sp.coo_matrix(
            (coo.data[off_diag], (coo.row[off_diag], coo.col[off_diag])), shape=coo.shape
        )
        blocks.append(topk_sparse_rows(block, k, drop_diagonal=False))
    out = sp.vstack(blocks, format="csr")
    out.sort_indices()
    return sp.csr_matrix(out, dtype=np.float32)
