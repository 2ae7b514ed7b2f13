import numpy as np


def denoise(X):
    """kNN smoothing: each cell becomes the mean of itself and its 10 nearest
    neighbours (Euclidean, on library-normalised sqrt counts), as per-cell
    proportions (see magic.py for why the scale)."""
    X = np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)
    library = X.sum(axis=1, keepdims=True)
    library[library == 0] = 1.0
    data = np.sqrt(X / library * 1e4)
    sq = (data ** 2).sum(axis=1)
    d = sq[:, None] + sq[None, :] - 2 * data @ data.T
    neighbours = np.argsort(d, axis=1)[:, :11]
    return (X / library)[neighbours].mean(axis=1)
