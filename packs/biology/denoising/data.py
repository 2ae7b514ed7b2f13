"""Count matrices for the denoising task: simulated, or read from a file, and
their molecular cross-validation split.

Simulated counts (the default, so runs and tests work offline): a low-rank
negative-binomial model. Cells belong to one of `types` cell types; each type
has a mean expression profile over genes (log-normal, with type-specific
programs), each cell a library size (log-normal); a count is NB(mean, shape)
with mean = library * profile, then dropout zeroes each count with a
probability that falls fast with its mean. Default size 400 cells x 2000 genes,
about 1500 molecules a cell, three quarters of the entries zero.

The split (Batson et al., molecular cross-validation): each molecule goes to
train with probability 0.9 and to test otherwise, i.e. X_train ~
Binomial(X, 0.9), X_test = X - X_train, from a seeded generator.
"""

import csv
import os

import numpy as np

TRAIN_FRACTION = 0.9


def simulate(cells=400, genes=2000, types=5, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.lognormal(mean=-1.0, sigma=1.5, size=genes)
    programs = rng.lognormal(mean=0.0, sigma=0.8, size=(types, genes))
    profiles = base * programs
    profiles /= profiles.sum(axis=1, keepdims=True)
    kind = rng.integers(0, types, size=cells)
    library = rng.lognormal(mean=np.log(1500), sigma=0.4, size=cells)
    mean = library[:, None] * profiles[kind]
    shape = 2.0
    counts = rng.negative_binomial(shape, shape / (shape + mean))
    dropout = rng.random(size=counts.shape) < np.exp(-3.0 * mean)
    counts[dropout] = 0
    return counts.astype(np.float64)


def split(counts, seed):
    rng = np.random.default_rng(seed)
    x = np.asarray(counts).astype(np.int64)
    train = rng.binomial(x, TRAIN_FRACTION)
    return train.astype(np.float64), (x - train).astype(np.float64)


def check_counts(x, source):
    """Raw counts: a non-empty 2-D matrix of non-negative integers."""
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError("%s: expected a cells x genes matrix with at least one cell and one gene, got shape %s"
                         % (source, x.shape))
    if not np.all(np.isfinite(x)):
        raise ValueError("%s: the counts hold NaN or infinite values" % source)
    if np.any(x < 0):
        raise ValueError("%s: the counts hold negative values; raw counts are needed" % source)
    # Counts that went through a float round trip (0.999999999999999) are
    # counts; anything further from an integer is normalised data.
    if np.any(np.abs(x - np.round(x)) > 1e-6):
        raise ValueError("%s: the counts are not integers (normalised data?); raw counts are needed" % source)
    return np.round(x)


def load(path, cells=None, genes=None, layer=None):
    """Counts from an AnnData `.h5ad` (raw counts in X, or in the named
    `layer`), a CSV (cells x genes, a header row and an index column) or a .npy
    file; `cells`/`genes` keep the first N of each for quick runs. celltypist's
    `sample_cell_by_gene.csv` (559 cells x 32786 genes of UMI counts) is such a
    CSV."""
    if path.endswith(".h5ad"):
        import anndata

        adata = anndata.read_h5ad(path)
        if layer is not None and layer not in adata.layers:
            raise ValueError("%s has no layer %r (layers: %s)" % (path, layer, ", ".join(adata.layers.keys()) or "none"))
        m = adata.layers[layer] if layer is not None else adata.X
        if m is None:
            raise ValueError("%s has no X matrix" % path)
        x = np.asarray(m.toarray() if hasattr(m, "toarray") else m, dtype=np.float64)
    elif path.endswith(".npy"):
        x = np.load(path, allow_pickle=False).astype(np.float64)
    elif path.endswith(".csv"):
        with open(path) as f:
            rows = list(csv.reader(f))
        x = np.array([[float(v) for v in row[1:]] for row in rows[1:]], dtype=np.float64)
    else:
        raise ValueError("%s: unsupported format (use .h5ad, .csv or .npy)" % path)
    x = check_counts(x, path)
    return x[:cells, :genes]


def split_cached(path, seed, cells=None, genes=None, layer=None):
    """The split of a file's counts, cached beside it so every rollout of a run
    (and every later run with the same seed) sees the same split."""
    cache = "%s.split-%d-%s-%s%s.npz" % (path, seed, cells, genes, "" if layer is None else "-" + layer)
    if os.path.exists(cache):
        with np.load(cache, allow_pickle=False) as z:
            return z["train"], z["test"]
    train, test = split(load(path, cells, genes, layer), seed)
    tmp = cache + ".tmp.npz"
    np.savez(tmp, train=train, test=test)
    os.replace(tmp, cache)
    return train, test
