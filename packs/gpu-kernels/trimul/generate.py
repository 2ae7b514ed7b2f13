"""TriMul inputs from a seed: the input tensor, the mask, the weights.

Shared by the harness (inside the candidate's sandbox, which generates the
inputs it times) and the checker (in the plugin, which generates the same
inputs again for the reference). Every value comes from one seeded generator
on the evaluation's device, so both sides get the same tensors.
"""

import math

import torch

HIDDEN = 128


def make(shape, seed, device):
    """shape: {"b", "n", "c", "mask", "dist"}. Returns (x, mask, weights, config)."""
    b, n, c = shape["b"], shape["n"], shape["c"]
    h = HIDDEN
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))

    def randn(*size, scale=1.0):
        return torch.randn(size, generator=g, device=device, dtype=torch.float32) * scale

    if shape["dist"] == "cauchy":
        # Cauchy(0, 2) by the inverse CDF: heavy tails that break low precision.
        u = torch.rand((b, n, n, c), generator=g, device=device, dtype=torch.float32)
        x = 2.0 * torch.tan(math.pi * (u - 0.5))
    else:
        x = randn(b, n, n, c)
    if shape["mask"]:
        # A real mask: each (i, j) kept with probability 1/2.
        mask = (torch.rand((b, n, n), generator=g, device=device) < 0.5).to(torch.float32)
    else:
        mask = torch.ones((b, n, n), device=device, dtype=torch.float32)
    weights = {
        "norm.weight": randn(c),
        "norm.bias": randn(c),
        "left_proj.weight": randn(h, c, scale=1 / math.sqrt(h)),
        "right_proj.weight": randn(h, c, scale=1 / math.sqrt(h)),
        "left_gate.weight": randn(h, c, scale=1 / math.sqrt(h)),
        "right_gate.weight": randn(h, c, scale=1 / math.sqrt(h)),
        "out_gate.weight": randn(h, c, scale=1 / math.sqrt(h)),
        "to_out_norm.weight": randn(h),
        "to_out_norm.bias": randn(h),
        "to_out.weight": randn(c, h, scale=1 / math.sqrt(c)),
    }
    config = {"dim": c, "hidden_dim": h}
    return x, mask, weights, config
