"""The reference TriMul forward pass (plugin side only: never shown to a
candidate's process), written as the equations read:

    xh = LayerNorm_C(x)
    L  = (xh Wl^T) * m * sigmoid(xh Gl^T)
    R  = (xh Wr^T) * m * sigmoid(xh Gr^T)
    O[b,i,j,d] = sum_k L[b,i,k,d] R[b,j,k,d]
    out = (LayerNorm_H(O) * sigmoid(xh Go^T)) Wout^T

fp32 throughout, with TF32 off so the reference is exact fp32. starter.py
computes the same today, but it is the candidates' starting point and may
change; this file is the definition and does not.
"""

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


def exact_fp32():
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
