"""Read the harness's nonce and write a line behind it that is not JSON.
Expected: invalid-result at once (not a wait until the deadline)."""
import os
import sys

main = sys.modules["__main__"]


def custom_kernel(data):
    os.write(1, (main.NONCE + "{not json\n").encode())
    return trimul(data)
