import numpy as np


def denoise(X):
    Y = np.array(X, dtype=float)
    Y[0, 0] = np.nan
    return Y
