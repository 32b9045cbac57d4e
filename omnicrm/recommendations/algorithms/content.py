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

# CJK unified ideographs (+ extension A), Hiragana, Katakana, Hangul syllables.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+")
_CJK_RUN = re.compile(rf"^[{_CJK}]+$")
# Dense cells per block of rows in content_weights (4M float32 = 16 MB).
_BLOCK_CELLS = 4_000_000
# max_df only applies from this many documents: in a tiny catalog every word is "common".
_MIN_DOCS_FOR_MAX_DF = 20


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


def tfidf_matrix(texts: Sequence[str], *, max_df: float = 0.5) -> sp.csr_matrix:
    """Documents x vocabulary TF-IDF matrix with L2-normalized rows (empty text: zero row).

    Tokens found in more than ``max_df`` of the documents (from 20 documents on) are dropped:
    a word every product shares ("coffee" in a coffee shop) says nothing about similarity and
    would make every product a neighbour of every other, which costs items² work.
    """
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
    if n_docs >= _MIN_DOCS_FOR_MAX_DF:
        idf[df > max_df * n_docs] = 0.0
    T.data = (1.0 + np.log(T.data)) * idf[T.indices]
    T.eliminate_zeros()
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
    kk = min(k, n - 1) if n > 1 else 0
    if kk == 0:
        return sp.csr_matrix((n, n), dtype=np.float32)
    # Row blocks of about _BLOCK_CELLS dense cells: a block's similarities are computed
    # sparse, densified, and cut with argpartition (no sort of millions of entries).
    step = max(1, _BLOCK_CELLS // n)
    rows_out: list[np.ndarray] = []
    cols_out: list[np.ndarray] = []
    vals_out: list[np.ndarray] = []
    for start in range(0, n, step):
        block = np.asarray((T[start : start + step] @ TT).toarray(), dtype=np.float32)
        local = np.arange(block.shape[0])
        block[local, local + start] = 0.0  # no self-similarity
        part = np.argpartition(-block, kk - 1, axis=1)[:, :kk]
        vals = np.take_along_axis(block, part, axis=1).ravel()
        keep = vals > 0
        rows_out.append(np.repeat(local + start, kk)[keep])
        cols_out.append(part.ravel()[keep])
        vals_out.append(vals[keep])
    out = sp.csr_matrix(
        (np.concatenate(vals_out), (np.concatenate(rows_out), np.concatenate(cols_out))),
        shape=(n, n),
        dtype=np.float32,
    )
    out.sort_indices()
    return out
