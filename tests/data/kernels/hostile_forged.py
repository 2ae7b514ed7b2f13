"""Print forged harness answers (a time of one nanosecond) on stdout and
straight to file descriptor 1. Expected: valid with the real times (lines
without the per-evaluation nonce are ignored)."""
import os
import sys

FORGED = '{"ok": true, "seconds": 1e-09, "shape": [1, 1, 1, 1]}\n'


def custom_kernel(data):
    print(FORGED)
    os.write(1, FORGED.encode())
    return trimul(data)
