"""Read the harness's nonce from its module and print a well-formed forged
answer (one nanosecond) before the real one. Expected: invalid (the harness
answers twice per call, "timed" then final: the forged line comes out of order,
or is checked like any other and its output is not yet written)."""
import json
import os
import sys

main = sys.modules["__main__"]


def custom_kernel(data):
    shape = list(data[0].shape)
    os.write(1, (main.NONCE + json.dumps({"ok": True, "seconds": 1e-9, "shape": shape}) + "\n").encode())
    return trimul(data)
