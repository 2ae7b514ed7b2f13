"""The TriMul measurements the GPU issue asks for, in one call.

    python3 packs/gpu-kernels/trimul/gpu_check.py [--out DIR] [--device cuda|cpu]

For the PyTorch starter, the fused PyTorch kernel and the Triton kernel: the
plugin's harness score (every shape checked, per-shape mean times), and the same
kernels timed by a plain CUDA-event loop in this process (L2 flushed, new inputs
per call), with their ratio (goal: within 3%). Then every hostile kernel of
tests/data/kernels through the harness (each must be invalid, except the two
that do honest work), and the wall time of one evaluation.

It drives the plugin's code directly, with a context that starts the harness
as a plain subprocess: the device machines have PyTorch and Triton but neither
the discover binary nor bubblewrap, and this measures the harness, not the
isolation (which tests/native.rs covers). Prints a table and writes
trimul_gpu.json to --out.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "crates/plugin/python"))


class Direct:
    """Enough of discover_plugin's Context to run the harness unsandboxed."""

    python = sys.executable

    def __init__(self):
        self.scratch = tempfile.mkdtemp(prefix="trimul-check-")
        self.timeout_seconds = 900.0

    def output_dir(self):
        return tempfile.mkdtemp(prefix="out-", dir=self.scratch)

    def spawn(self, argv, files=None, limits=None, devices=None, lock=None, output_dir=None, env=None, **_):
        job = tempfile.mkdtemp(prefix="job-", dir=self.scratch)
        for name, text in (files or {}).items():
            with open(os.path.join(job, name), "w") as f:
                f.write(text)
        argv = [self.python if a == "/usr/bin/python3" else a.replace("/job/", job + "/") for a in argv]
        environment = dict(os.environ, DISCOVER_JOB_DIR=job, DISCOVER_OUT_DIR=output_dir, **(env or {}))
        errors = tempfile.TemporaryFile(dir=self.scratch)
        # Its own session: what the candidate leaves behind is killed with it
        # (the stand-in for the sandbox's pid namespace).
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, env=environment,
                                start_new_session=True)
        return Spawned(proc, errors)


class Spawned:
    def __init__(self, proc, errors):
        self.proc, self.stdin, self.stdout, self.errors = proc, proc.stdin, proc.stdout, errors

    def kill(self):
        self._kill_group()

    def _kill_group(self):
        try:
            os.killpg(self.proc.pid, 9)
        except OSError:
            pass

    def wait(self):
        code = self.proc.wait()
        self._kill_group()
        self.errors.seek(0)
        err = self.errors.read().decode("utf-8", "replace")
        return {"outcome": "exited", "code": code, "summary": "exited with status %d" % code,
                "failure": None if code == 0 else "runtime-error", "wall_seconds": 0.0, "stderr_tail": err[-4000:]}


def plain_event_times(problem, kernel, shapes, reps=10, warmup=3):
    """Mean seconds per call of `kernel` per shape, the plain way."""
    import torch

    device = problem.device
    times = {}
    flush = torch.empty(256 << 20, dtype=torch.int8, device=device) if device == "cuda" else None
    for shape in shapes:
        samples = []
        for rep in range(warmup + reps):
            data = problem.generate.make(dict(zip(("b", "n", "c", "mask", "dist"), shape)), 1000 + rep, device)
            if device == "cuda":
                flush.zero_()
                torch.cuda.synchronize()
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                kernel(data)
                end.record()
                torch.cuda.synchronize()
                seconds = start.elapsed_time(end) / 1e3
            else:
                t0 = time.perf_counter()
                kernel(data)
                seconds = time.perf_counter() - t0
            if rep >= warmup:
                samples.append(seconds)
        times[shape] = sum(samples) / len(samples)
    return times


def load(path):
    with open(path) as f:
        return f.read()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=".")
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    if args.device:
        os.environ["DISCOVER_TRIMUL_DEVICE"] = args.device
    import plugin

    problem = plugin.TriMul()
    if problem.device == "cpu":
        os.environ["TRITON_INTERPRET"] = "1"  # as the harness does in CPU mode
    ctx = Direct()
    report = {"device": problem.device, "gpu": problem.gpu, "kernels": {}, "hostile": {}}
    print("device: %s %s" % (problem.device, problem.gpu or ""))
    kernels = {
        "starter": load(os.path.join(HERE, "starter.py")),
        "fused": load(os.path.join(ROOT, "tests/data/kernels/fused.py")),
        "triton": load(os.path.join(HERE, "kernels/triton_fused.py")),
    }
    print("%-8s %12s %12s %8s %10s" % ("kernel", "harness us", "plain us", "ratio", "eval s"))
    for name, source in kernels.items():
        t0 = time.perf_counter()
        verdict = problem.evaluate(source, ctx)
        wall = time.perf_counter() - t0
        entry = {"valid": verdict["valid"], "reason": verdict.get("reason"), "evaluation_seconds": wall,
                 "metrics": dict(verdict.get("metrics", []))}
        if verdict["valid"] and (problem.device == "cuda" or name != "triton"):
            # (Triton on the CPU runs in its interpreter: too slow to time twice.)
            namespace = {}
            exec(compile(source, name, "exec"), namespace)
            plain = plain_event_times(problem, namespace["custom_kernel"], problem.benchmarks)
            geomean = math.exp(sum(math.log(t) for t in plain.values()) / len(plain)) * 1e6
            entry["plain_geomean_us"] = geomean
            entry["plain_per_shape_us"] = {plugin.shape_name(s): t * 1e6 for s, t in plain.items()}
            entry["ratio"] = verdict["score"] / geomean
            print("%-8s %12.1f %12.1f %8.3f %10.2f" % (name, verdict["score"], geomean, entry["ratio"], wall))
        elif verdict["valid"]:
            print("%-8s %12.1f %12s %8s %10.2f" % (name, verdict["score"], "-", "-", wall))
        else:
            print("%-8s invalid: %s" % (name, (verdict.get("reason") or "")[:100]))
        report["kernels"][name] = entry
    # The starter's honest TriMul, kept as `trimul` for the hostile kernels.
    honest = load(os.path.join(HERE, "starter.py")) + "\ntrimul = custom_kernel\n"
    kernels_dir = os.path.join(ROOT, "tests/data/kernels")
    for file in sorted(os.listdir(kernels_dir)):
        if not file.startswith("hostile_"):
            continue
        name = file[len("hostile_"):-3]
        verdict = problem.evaluate(honest + "\n" + load(os.path.join(kernels_dir, file)), ctx)
        report["hostile"][name] = {"valid": verdict["valid"], "failure": verdict.get("failure"),
                                   "reason": (verdict.get("reason") or "")[:300]}
        expected_valid = name in ("background", "forged")
        mark = "ok" if verdict["valid"] == expected_valid else "UNEXPECTED"
        print("hostile %-12s valid=%-5s %-16s %s %s" % (name, verdict["valid"], verdict.get("failure"), mark,
                                                        (verdict.get("reason") or "")[:70]))
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "trimul_gpu.json"), "w") as f:
        json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
