"""An honest TriMul; the tests put it in front of each hostile kernel."""
import torch
import torch.nn.functional as F


def trimul(data):
    x, mask, w, config = data
    c, h = config["dim"], config["hidden_dim"]
    xh = F.layer_norm(x, (c,), w["norm.weight"], w["norm.bias"])
    m = mask.unsqueeze(-1)
    left = (xh @ w["left_proj.weight"].T) * m * torch.sigmoid(xh @ w["left_gate.weight"].T)
    right = (xh @ w["right_proj.weight"].T) * m * torch.sigmoid(xh @ w["right_gate.weight"].T)
    o = torch.einsum("bikd,bjkd->bijd", left, right)
    o = F.layer_norm(o, (h,), w["to_out_norm.weight"], w["to_out_norm.bias"])
    o = o * torch.sigmoid(xh @ w["out_gate.weight"].T)
    return o @ w["to_out.weight"].T
