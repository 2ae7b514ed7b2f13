"""Ignore the mask (what passed when the reference harness never tested
masks). Expected: wrong-answer on the masked shapes."""
import torch


def custom_kernel(data):
    x, mask, w, config = data
    return trimul((x, torch.ones_like(mask), w, config))
