"""Return an empty tensor at once and fill it in from a thread later (the
work done after the timer stops, or in the untimed check). Expected:
wrong-answer (the output is judged as it is when the call returns)."""
import threading
import time

import torch


def custom_kernel(data):
    out = torch.empty(data[0].shape, dtype=torch.float32)

    def later():
        time.sleep(0.5)
        out.copy_(trimul(data))

    threading.Thread(target=later, daemon=True).start()
    return out
