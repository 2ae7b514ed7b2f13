"""Detect the benchmark shapes and skip the work there (return zeros fast).
Expected: wrong-answer (benchmark calls are checked too)."""
import torch

BENCHMARK_SHAPES = {(2, 32, 32, 64), (1, 64, 64, 128), (1, 48, 48, 64)}


def custom_kernel(data):
    if tuple(data[0].shape) in BENCHMARK_SHAPES:
        return torch.zeros(data[0].shape)
    return trimul(data)
