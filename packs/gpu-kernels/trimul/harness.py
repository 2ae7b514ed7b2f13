"""The TriMul harness: runs inside the candidate's sandbox, in its process.

It is trusted code in an untrusted process, so nothing it reports is trusted
by the plugin: the plugin checks every output against its own reference
(computed in another process from the same seed), and bounds every reported
time by the wall clock it measures outside. The harness only makes the
honest path precise (CUDA events, L2 flushed, every stream synchronised).

Lockstep protocol, one JSON object per line:
  plugin -> {"op": "run", "shape": {...}, "seed": s, "file": "r7.bin", "timed": true}
  harness: generate inputs from s, flush L2, start timer, custom_kernel(data),
           synchronise, stop timer
  harness -> NONCE {"ok": true, "timed": true, "seconds": t}
  harness: write the output (fp32, raw) to /out/r7.bin
  harness -> NONCE {"ok": true, "shape": [...], "dtype": "..."}
The next seed is sent only after the second answer, so no call can be batched
with a later one, and no output can be computed before its inputs exist. The
first answer comes before the output is moved, so the plugin's clock from its
command to that answer spans the inputs and the kernel alone: on a GPU, moving
a large output costs tens of times the kernel, and a bound that included it
could not tell a forged time from a true one.
"""

import json
import os
import sys
import time
import traceback

_clock = time.perf_counter
_write = os.write
_protocol_fd = os.dup(1)
NONCE = sys.stdin.readline().strip()
DEVICE = sys.argv[1]
JOB = os.environ.get("DISCOVER_JOB_DIR", "/job")
OUT = os.environ.get("DISCOVER_OUT_DIR", "/out")

# The candidate's prints go to stderr; fd 1 stays the protocol's (a candidate
# writing to it directly writes lines without the nonce, which are ignored).
sys.stdout = sys.stderr


def reply(obj):
    _write(_protocol_fd, (NONCE + json.dumps(obj) + "\n").encode())


def fail(stage):
    reply({"ok": False, "stage": stage, "error": traceback.format_exc()[-1500:]})
    sys.stderr.flush()
    os._exit(0)


try:
    import torch

    sys.path.insert(0, JOB)
    import generate
    import transfer

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
except Exception:
    fail("setup")

try:
    import candidate

    kernel = candidate.custom_kernel
except Exception:
    fail("import")

cuda = DEVICE == "cuda"
# Outputs leave through page-locked memory on a GPU (transfer.py says why).
_host = transfer.HostBuffer(cuda)
if cuda:
    # Flushing L2 between repetitions: write a buffer larger than any L2.
    _flush = torch.empty(256 << 20, dtype=torch.int8, device="cuda")
    _Event = torch.cuda.Event
    _sync = torch.cuda.synchronize


def run(cmd):
    data = generate.make(cmd["shape"], cmd["seed"], DEVICE)
    if cuda:
        _flush.zero_()
        _sync()
        start, end = _Event(enable_timing=True), _Event(enable_timing=True)
        start.record()
        out = kernel(data)
        # Every stream, not just the current one: work launched on a side
        # stream is part of the call.
        _sync()
        end.record()
        _sync()
        seconds = start.elapsed_time(end) / 1e3
    else:
        t0 = _clock()
        out = kernel(data)
        seconds = _clock() - t0
    reply({"ok": True, "timed": True, "seconds": seconds})
    if isinstance(out, (tuple, list)) and len(out) >= 1:
        out = out[0]
    if not isinstance(out, torch.Tensor):
        return {"ok": False, "stage": "result", "error": "custom_kernel returned %s, not a tensor" % type(out).__name__}
    shape = list(out.shape)
    # Written right after the timer: whatever the output holds now is judged.
    transfer.write_output(out, os.path.join(OUT, cmd["file"]), _host)
    return {"ok": True, "shape": shape, "dtype": str(out.dtype)}


reply({"ok": True, "ready": True, "device": DEVICE})
for line in sys.stdin:
    cmd = json.loads(line)
    if cmd.get("op") == "exit":
        break
    try:
        answer = run(cmd)
    except Exception:
        fail("run")
    reply(answer)
sys.stderr.flush()
# Threads the candidate left running do not keep the process alive.
os._exit(0)
