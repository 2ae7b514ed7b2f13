"""Moving one output between the candidate's process and the checker: as raw
float32 through a file in the candidate's /out.

Shared by the harness (which writes each output) and the plugin (which reads
it back, and times the harness's part of this to bound a call's time from
outside). On a GPU both sides go through one page-locked host buffer each:
measured on an H200 for a 3.2 GB output (BENCHMARKS.md), the copy to the host
took 2.05 s into ordinary memory and 0.058 s into page-locked memory, reading
the file back 0.9-1.3 s against 0.55 s, and the copy to the GPU 0.40 s against
0.058 s; the evaluation moves about 60 GB of outputs this way.
"""

import torch


class HostBuffer:
    """A page-locked float32 buffer on a GPU machine, a plain one on the CPU,
    grown (at least doubled, so a run of growing shapes pins at most twice the
    largest) and reused."""

    def __init__(self, cuda):
        self.cuda = cuda
        self.buffer = None

    def take(self, count):
        if self.buffer is None or self.buffer.numel() < count:
            size = count if self.buffer is None else max(count, 2 * self.buffer.numel())
            self.buffer = None  # freed before the larger one is pinned
            self.buffer = torch.empty(size, dtype=torch.float32, pin_memory=self.cuda)
        return self.buffer[:count]


def write_output(out, path, host):
    """Write `out` (any dtype, any device) to `path` as raw float32."""
    flat = out.detach().to(torch.float32).contiguous().reshape(-1)
    if host.cuda and flat.is_cuda:
        staged = host.take(flat.numel())
        staged.copy_(flat)  # synchronous: the output as it is now
        flat = staged
    flat.cpu().numpy().tofile(path)


def read_output(path, shape, device, host):
    """The float32 tensor of `shape` in `path`, on `device`; None when the file
    holds fewer bytes than the shape needs (the caller checks the size first)."""
    count = 1
    for d in shape:
        count *= d
    staged = host.take(count)
    view = memoryview(staged.numpy()).cast("B")
    done = 0
    with open(path, "rb", buffering=0) as f:
        # One read returns at most about 2 GiB on Linux: loop until full.
        while done < len(view):
            got = f.readinto(view[done:])
            if not got:
                return None
            done += got
    tensor = staged.view(*shape)
    if device == "cpu":
        return tensor.clone()  # the buffer is reused by the next call
    return tensor.to(device)  # synchronous from page-locked memory
