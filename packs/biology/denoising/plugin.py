"""Single-cell RNA-seq denoising (OpenProblems v1), a native plugin.

The policy writes `denoise(X_train) -> Y`. The plugin holds one dataset and
its molecular cross-validation split; a candidate runs in a fresh sandboxed
process that sees only X_train; its Y is scored here against the held-out
X_test (metrics.py). The dataset: $DISCOVER_DENOISING_DATA (an .h5ad with raw
counts in X or in the layer $DISCOVER_DENOISING_LAYER, a .csv or a .npy;
$DISCOVER_DENOISING_CELLS / _GENES keep the first N), else
counts simulated from a low-rank negative-binomial model (data.py).
"""

import os
import secrets
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np

import data
import discover_plugin as dp
import metrics

SPLIT_SEED = 0


def read(name):
    with open(os.path.join(HERE, name)) as f:
        return f.read()


def env_int(name):
    value = os.environ.get(name)
    return int(value) if value else None


def input_format():
    value = os.environ.get("DISCOVER_DENOISING_INPUT") or "dense"
    if value not in ("dense", "sparse"):
        raise ValueError("DISCOVER_DENOISING_INPUT is %r; use dense or sparse" % value)
    return value


class Denoising(dp.Problem):
    def __init__(self):
        source = os.environ.get("DISCOVER_DENOISING_DATA")
        if source:
            cells, genes = env_int("DISCOVER_DENOISING_CELLS"), env_int("DISCOVER_DENOISING_GENES")
            layer = os.environ.get("DISCOVER_DENOISING_LAYER") or None
            path = data.resolve(source)
            self.train, self.test = data.split_cached(path, SPLIT_SEED, cells, genes, layer)
            self.dataset = data.NAMED[source].about if source in data.NAMED else os.path.basename(path)
        else:
            self.train, self.test = data.split(data.simulate(), SPLIT_SEED)
            self.dataset = ("simulated (400 cells x 2000 genes, low-rank negative binomial: 5 cell types, 3 continuous "
                            "programs, libraries around 3000 molecules)")
        self.sparse = input_format() == "sparse"
        self.constants = metrics.Constants.of(self.train, self.test)
        # Seconds a candidate may take ($DISCOVER_DENOISING_SECONDS, default 120).
        self.seconds = float(os.environ.get("DISCOVER_DENOISING_SECONDS") or 120)
        # Memory a candidate may use ($DISCOVER_DENOISING_MEMORY_MIB, default 4096).
        self.memory_mib = int(os.environ.get("DISCOVER_DENOISING_MEMORY_MIB") or 4096)
        self.scratch_train = None

    def spec(self):
        c = self.constants
        cells, genes = self.train.shape
        zeros = float(np.mean(self.train == 0))
        statement = (
            "Denoise a single-cell RNA-seq count matrix (cells x genes). The counts were split molecule by molecule: "
            "each molecule went to X_train with probability 0.9, to a held-out X_test otherwise. Your denoise(X_train) "
            "returns Y, an estimate of the true expression; it is scored against X_test.\n\n"
            "MSE: normalise the rows of X_test and Y to 10,000 counts, log1p, mean squared difference. Poisson: "
            "Yhat = Y * sum(X_test) / sum(X_train), mean(X_test - Yhat * log(X_test + 1e-6)). Each is normalised as "
            "(no_denoising - value) / (no_denoising - perfect), where no denoising is Y = X_train and perfect is "
            "Y = X_test: 1 is perfect, 0 is doing nothing. Valid only if the normalised Poisson is at least 0.97. "
            "Score (higher is better): the normalised MSE. Note: the MSE ignores Y's scale (rows are normalised) while "
            "the Poisson term charges every molecule Y predicts where X_test is zero, so return per-cell proportions "
            "(rows summing to 1) rather than counts at the library size.\n\n"
            "Dataset: %s; %d cells x %d genes, %.0f%% of X_train's entries are zero. Its constants: MSE no denoising "
            "%.6f, perfect %.6f; Poisson no denoising %.6f, perfect %.6f.\n\n"
            "References on PBMC (1087 cells): MAGIC normalised mean 0.64 (MSE 0.1887, Poisson 0.0495); TTT-Discover "
            "0.71 (MSE 0.1539, Poisson 0.0475)."
            % (self.dataset, cells, genes, 100 * zeros, c.mse_none, c.mse_perfect, c.poisson_none, c.poisson_perfect)
        )
        contract = (
            "A Python file defining `denoise(X)`: X holds raw counts, cells x genes (%d x %d), as %s. Return Y, the "
            "same shape, finite and non-negative (a numpy array or a scipy sparse matrix). numpy and scipy are "
            "available. It runs in a fresh process with no network and no files but X, for at most %g s and %d MiB."
            % (cells, genes, "a scipy.sparse CSR matrix (float64)" if self.sparse else "a numpy float64 array",
               self.seconds, self.memory_mib)
        )
        return dp.spec(id="denoising", title="Single-cell RNA-seq denoising (molecular cross-validation)",
                       direction="maximize", language="python", statement=statement, contract=contract,
                       environment="CPU; numpy and scipy; X is %d x %d." % (cells, genes),
                       candidate_seconds=120, evaluate_millis=180000, memory_mib=4096)

    def initial(self, seed):
        return read("magic.py")

    def evaluate(self, source, ctx):
        if self.scratch_train is None:
            os.makedirs(ctx.scratch, exist_ok=True)
            self.scratch_train = os.path.join(ctx.scratch, "train-%d.npz" % os.getpid())
            if self.sparse:
                import scipy.sparse

                m = scipy.sparse.csr_matrix(self.train)
                np.savez(self.scratch_train, format="csr", data=m.data, indices=m.indices, indptr=m.indptr,
                         shape=np.array(m.shape))
            else:
                np.savez(self.scratch_train, format="dense", x=self.train)
        out = ctx.output_dir()
        nonce = secrets.token_hex(16)
        try:
            result = ctx.run(
                [ctx.python, "/job/harness.py"],
                files={"candidate.py": source, "harness.py": read("harness.py")},
                copy={"train.npz": self.scratch_train},
                stdin=(nonce + "\n").encode(),
                output_dir=out,
                limits=dp.Limits(wall_seconds=self.seconds, cpu_seconds=int(2 * self.seconds), memory_mib=self.memory_mib,
                                 processes=128, file_mib=1024, stdout_bytes=1 << 20),
            )
            return self._judge(result, nonce, out)
        finally:
            shutil.rmtree(out, ignore_errors=True)

    def _judge(self, result, nonce, out):
        tail = result.stderr_tail[-1500:]
        if not result.ok:
            return dp.invalid(result.summary(), failure=result.failure, output=tail)
        answer, failed = result.answer_json(nonce, output=tail)
        if failed:
            return failed
        if answer.get("memory"):
            return dp.invalid("denoise ran out of its %d MiB of memory:\n%s" % (self.memory_mib, answer.get("error", "")),
                              failure="out-of-memory", output=tail)
        if not answer.get("ok"):
            return dp.invalid("denoise raised:\n" + answer.get("error", ""), failure="exception", output=tail)
        try:
            y = np.load(os.path.join(out, "y.npy"), allow_pickle=False)
        except Exception as e:
            return dp.invalid("the result could not be read: %s" % e, failure="invalid-result", output=tail)
        if y.shape != self.train.shape:
            return dp.invalid("Y has shape %s; X_train has %s" % (y.shape, self.train.shape),
                              failure="invalid-result", output=tail)
        if not np.all(np.isfinite(y)):
            return dp.invalid("Y holds %d NaN or infinite values" % int(np.sum(~np.isfinite(y))),
                              failure="invalid-result", output=tail)
        if np.any(y < 0):
            return dp.invalid("Y holds %d negative values (minimum %g)" % (int(np.sum(y < 0)), float(y.min())),
                              failure="invalid-result", output=tail)
        s = metrics.score(self.train, self.test, y, self.constants)
        figures = {k: s[k] for k in ("mse_normalised", "poisson_normalised", "mean_normalised", "mse", "poisson")}
        figures["seconds"] = answer["seconds"]
        if not s["valid"]:
            return dp.invalid("the normalised Poisson %.4f is below 0.97 (the validity rule)" % s["poisson_normalised"],
                              failure="wrong-answer", metrics=figures, output=tail)
        return dp.valid(s["mse_normalised"], metrics=figures, output=tail)


if __name__ == "__main__":
    dp.serve(Denoising())
