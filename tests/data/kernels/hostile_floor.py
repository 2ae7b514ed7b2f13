"""Drive one benchmark shape's time toward zero (so the geometric mean
collapses): report a nanosecond for calls of that shape. Expected:
invalid-result (the outside clock disagrees; below the per-shape floor too)."""
import sys

main = sys.modules["__main__"]
real = main._clock
state = {"n": None, "calls": 0}


def fake():
    if state["n"] != 48:
        return real()
    state["calls"] += 1
    return state["calls"] * 1e-9


main._clock = fake


def custom_kernel(data):
    state["n"] = data[0].shape[1]
    return trimul(data)
