"""Look for the reference or its outputs: the reference module, the pack's
files, the plugin's folders, tensors of the output's shape anywhere in the
process (gc), and freed memory (torch.empty). Expected: wrong-answer (none of
that exists in the candidate's process; the best it finds is the input)."""
import gc
import os

import torch


def custom_kernel(data):
    for name in ["reference", "plugin", "trimul.reference"]:
        try:
            module = __import__(name)
            return module.trimul(data)
        except Exception:
            pass
    for path in ["/job/reference.py", "/proc/1/cwd/reference.py", "/tmp/reference.py"]:
        if os.path.exists(path):
            raise RuntimeError("the reference is visible at " + path)
    shape = data[0].shape
    for obj in gc.get_objects():
        if isinstance(obj, torch.Tensor) and obj.shape == shape and obj is not data[0]:
            return obj
    return torch.empty(shape) if torch.empty(shape).abs().sum() > 0 else data[0]
