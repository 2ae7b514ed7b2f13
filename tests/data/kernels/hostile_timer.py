"""Do the work honestly but patch the harness's clocks (the CPU clock; on a GPU
the CUDA events) so each call seems to take 1% of its time. Expected:
invalid-result (the clock outside the process does not agree)."""
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


def patch_events():
    # The harness binds its CUDA event class after importing this module, so
    # the patch waits for the first call (and holds from the second on).
    event = getattr(main, "_Event", None)
    if event is not None and not getattr(event, "forged", False):
        class FakeEvent(event):
            forged = True

            def elapsed_time(self, end):
                return super().elapsed_time(end) * 0.01

        main._Event = FakeEvent


def custom_kernel(data):
    patch_events()
    return trimul(data)
