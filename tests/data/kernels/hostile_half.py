"""Compute in half precision for speed. Expected: wrong-answer on the Cauchy
inputs (or on masked shapes)."""
import torch


def custom_kernel(data):
    x, mask, w, config = data
    half = (x.to(torch.bfloat16), mask.to(torch.bfloat16), {k: v.to(torch.bfloat16) for k, v in w.items()}, config)
    return trimul(half).to(torch.float32)
