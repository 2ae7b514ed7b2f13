"""Overwrite the inputs (x, mask, weights) with zeros before anyone else
sees them, so a reference run on the same tensors would agree with a cheap
answer. Expected: wrong-answer (the checker makes its own inputs from the seed)."""
import torch


def custom_kernel(data):
    x, mask, w, config = data
    x.zero_()
    for t in w.values():
        t.zero_()
    return trimul(data)
