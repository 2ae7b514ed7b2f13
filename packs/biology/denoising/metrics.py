"""The denoising task's metrics, as OpenProblems v1 (and the paper) define them.

X_train, X_test: the molecular cross-validation split of one count matrix
(cells x genes). Y: a denoised X_train, same shape, non-negative, finite.

- MSE: normalise the rows of X_test and Y to 10,000 counts, log1p both, mean
  squared difference.
- Poisson: rescale Y by the test/train totals, Yhat = Y * sum(X_test) /
  sum(X_train), then mean(X_test - Yhat * log(X_test + 1e-6)). This is the v1
  and paper argument order (the loss function's own signature puts them the
  other way round; v2 swapped them back).
- Normalised: (no_denoising - value) / (no_denoising - perfect), where
  no_denoising scores Y = X_train and perfect scores Y = X_test; 1 is perfect,
  0 is no better than doing nothing. Higher is better for both.
- Valid only if the normalised Poisson is at least 0.97. The reward is the
  normalised MSE; the reported score is the mean of both normalised values.
"""

import numpy as np

POISSON_VALIDITY = 0.97


def _dense(x):
    return np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=np.float64)


def mse(x_test, y):
    def norm(m):
        m = _dense(m)
        totals = m.sum(axis=1, keepdims=True)
        totals[totals == 0] = 1.0
        return np.log1p(m / totals * 1e4)

    return float(np.mean((norm(x_test) - norm(y)) ** 2))


def poisson(x_test, y, x_train):
    x_test, y = _dense(x_test), _dense(y)
    y_hat = y * (x_test.sum() / _dense(x_train).sum())
    return float(np.mean(x_test - y_hat * np.log(x_test + 1e-6)))


def normalised(value, no_denoising, perfect):
    return (no_denoising - value) / (no_denoising - perfect)


class Constants:
    """The no-denoising and perfect values of both metrics for one split."""

    def __init__(self, mse_none, mse_perfect, poisson_none, poisson_perfect):
        self.mse_none, self.mse_perfect = mse_none, mse_perfect
        self.poisson_none, self.poisson_perfect = poisson_none, poisson_perfect

    @staticmethod
    def of(x_train, x_test):
        return Constants(mse(x_test, x_train), mse(x_test, x_test),
                         poisson(x_test, x_train, x_train), poisson(x_test, x_test, x_train))


def score(x_train, x_test, y, constants):
    """All figures for Y: raw and normalised MSE and Poisson, the mean, and
    whether the normalised Poisson passes the validity rule."""
    m, p = mse(x_test, y), poisson(x_test, y, x_train)
    nm = normalised(m, constants.mse_none, constants.mse_perfect)
    npois = normalised(p, constants.poisson_none, constants.poisson_perfect)
    return {
        "mse": m,
        "poisson": p,
        "mse_normalised": nm,
        "poisson_normalised": npois,
        "mean_normalised": (nm + npois) / 2,
        "valid": bool(npois >= POISSON_VALIDITY),
    }
