"""Do the work honestly but patch the harness's clock so each call seems to
take 1% of its time. Expected: invalid-result (the clock outside the process
does not agree)."""
import sys

main = sys.modules["__main__"]
real = main._clock
state = {"last": None}


def fake():
    t = real()
    if state["last"] is None:
        state["last"] = t
        return t
    start, state["last"] = state["last"], None
    return start + (t - start) * 0.01


main._clock = fake


def custom_kernel(data):
    return trimul(data)
