"""Runs inside the candidate's sandbox: load X_train, call denoise, write Y.

Only the training counts are here (/job/train.npz, read-only: a dense array,
or the parts of a CSR matrix when the plugin was asked for sparse input); the held-out
test counts never leave the plugin's process. What this writes is checked
there (shape, finite, non-negative) before any metric is computed.
"""

import json
import os
import sys
import time
import traceback

NONCE = sys.stdin.readline().strip()
JOB = os.environ.get("DISCOVER_JOB_DIR", "/job")
OUT = os.environ.get("DISCOVER_OUT_DIR", "/out")
_fd = os.dup(1)
sys.stdout = sys.stderr


def reply(obj):
    os.write(_fd, (NONCE + json.dumps(obj) + "\n").encode())


try:
    import numpy as np

    with np.load(os.path.join(JOB, "train.npz"), allow_pickle=False) as z:
        if str(z["format"]) == "csr":
            import scipy.sparse

            x = scipy.sparse.csr_matrix((z["data"], z["indices"], z["indptr"]), shape=tuple(z["shape"]))
        else:
            x = z["x"]
    sys.path.insert(0, JOB)
    import candidate

    t0 = time.perf_counter()
    y = candidate.denoise(x)
    seconds = time.perf_counter() - t0
    if hasattr(y, "toarray"):
        y = y.toarray()
    y = np.asarray(y, dtype=np.float64)
    np.save(os.path.join(OUT, "y.npy"), y, allow_pickle=False)
    reply({"ok": True, "seconds": seconds, "shape": list(y.shape)})
except MemoryError:
    reply({"ok": False, "memory": True, "error": traceback.format_exc()[-1500:]})
except Exception:
    reply({"ok": False, "error": traceback.format_exc()[-1500:]})
sys.stderr.flush()
os._exit(0)
