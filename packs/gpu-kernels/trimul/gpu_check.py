"""The TriMul measurements the GPU issue asks for, in one call.

    python3 packs/gpu-kernels/trimul/gpu_check.py [--out DIR] [--device cuda|cpu]
        [--kernels starter,fused,triton] [--plain-only] [--hostile all|none|A,B]
        [--breakdown] [--budget SECONDS]

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
trimul_gpu.json to --out (after every kernel, so a cut-short call keeps what
it measured). --plain-only skips the harness and times the kernels the plain
way alone; --breakdown times the steps of one harness call on the largest
shapes (generate, kernel, copy out, write, read back, reference, compare);
--budget stops starting hostile kernels once that many seconds have passed.
"""

import argparse
import importlib.util
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


def import_kernel(name, source, scratch):
    """The candidate's module, imported from a file (Triton's @jit reads the
    source of the functions it compiles, which exec'd code has not)."""
    path = os.path.join(scratch, "plain_%s.py" % name)
    with open(path, "w") as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location("plain_%s" % name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def breakdown(problem, shapes, scratch):
    """Seconds of each step of one checked call, per shape (the median of 3)."""
    import numpy as np
    import plugin
    import torch

    cuda = problem.device == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    starter = import_kernel("breakdown", load(os.path.join(HERE, "starter.py")), scratch)
    result = {}
    for shape in shapes:
        b, n, c, _, _ = shape
        steps = {}
        for rep in range(3):
            marks = [("start", time.perf_counter())]

            def mark(what):
                sync()
                marks.append((what, time.perf_counter()))

            data = problem.generate.make(plugin.shape_dict(shape), rep, problem.device)
            mark("generate inputs")
            out = starter.custom_kernel(data)
            mark("kernel (starter)")
            host = out.detach().to(torch.float32).contiguous().cpu()
            mark("copy to host")
            path = os.path.join(scratch, "breakdown.bin")
            host.numpy().tofile(path)
            mark("write file")
            back = torch.from_numpy(np.fromfile(path, dtype=np.float32)).view(b, n, n, c)
            mark("read file")
            back = back.to(problem.device)
            mark("copy to device")
            with torch.no_grad():
                ref = problem.reference.trimul(problem.generate.make(plugin.shape_dict(shape), rep, problem.device))
            mark("inputs + reference")
            ratio = (back - ref).abs() / (plugin.ATOL + plugin.RTOL * ref.abs())
            bool((~(ratio <= 1.0)).any())
            mark("compare")
            if cuda:
                # The same transfers through page-locked buffers.
                pinned = torch.empty(out.numel(), dtype=torch.float32, pin_memory=True)
                mark("allocate pinned")
                pinned.copy_(out.detach().to(torch.float32).reshape(-1))
                mark("copy to host, pinned")
                with open(path, "rb") as f:
                    f.readinto(memoryview(pinned.numpy()).cast("B"))
                mark("read file into pinned")
                pinned.to(problem.device, non_blocking=True)
                mark("copy to device, pinned")
                del pinned
            os.unlink(path)
            for (_, t0), (what, t1) in zip(marks, marks[1:]):
                steps.setdefault(what, []).append(t1 - t0)
        name = "b%d_n%d_c%d (%.2f GB out)" % (b, n, c, 4 * b * n * n * c / 1e9)
        result[name] = {what: sorted(v)[1] for what, v in steps.items()}
        print("breakdown %s: %s" % (name, ", ".join("%s %.3f s" % (w, t) for w, t in result[name].items())))
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=".")
    parser.add_argument("--device", default=None)
    parser.add_argument("--kernels", default="starter,fused,triton")
    parser.add_argument("--plain-only", action="store_true")
    parser.add_argument("--hostile", default="all")
    parser.add_argument("--breakdown", action="store_true")
    parser.add_argument("--budget", type=float, default=float("inf"))
    args = parser.parse_args()
    began = time.perf_counter()
    if args.device:
        os.environ["DISCOVER_TRIMUL_DEVICE"] = args.device
    import plugin

    problem = plugin.TriMul()
    if problem.device == "cpu":
        os.environ["TRITON_INTERPRET"] = "1"  # as the harness does in CPU mode
    ctx = Direct()
    report = {"device": problem.device, "gpu": problem.gpu, "kernels": {}, "hostile": {}}
    print("device: %s %s" % (problem.device, problem.gpu or ""))
    if args.breakdown:
        biggest = sorted(set(problem.tests) | set(problem.benchmarks), key=lambda s: s[0] * s[1] * s[1] * s[2])[-2:]
        report["breakdown"] = breakdown(problem, biggest, ctx.scratch)
        save(report, args.out)
    kernels = {
        "starter": load(os.path.join(HERE, "starter.py")),
        "fused": load(os.path.join(ROOT, "tests/data/kernels/fused.py")),
        "triton": load(os.path.join(HERE, "kernels/triton_fused.py")),
    }
    kernels = {k: v for k, v in kernels.items() if k in args.kernels.split(",")}
    print("%-8s %12s %12s %8s %10s" % ("kernel", "harness us", "plain us", "ratio", "eval s"))
    for name, source in kernels.items():
        t0 = time.perf_counter()
        if args.plain_only:
            verdict = {"valid": True, "score": float("nan"), "metrics": []}
        else:
            verdict = problem.evaluate(source, ctx)
        wall = time.perf_counter() - t0
        entry = {"valid": verdict["valid"], "reason": verdict.get("reason"), "evaluation_seconds": wall,
                 "metrics": dict(verdict.get("metrics", []))}
        if verdict["valid"] and (problem.device == "cuda" or name != "triton"):
            # (Triton on the CPU runs in its interpreter: too slow to time twice.)
            kernel = import_kernel(name, source, ctx.scratch).custom_kernel
            plain = plain_event_times(problem, kernel, problem.benchmarks)
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
        save(report, args.out)
    # The starter's honest TriMul, kept as `trimul` for the hostile kernels.
    honest = load(os.path.join(HERE, "starter.py")) + "\ntrimul = custom_kernel\n"
    kernels_dir = os.path.join(ROOT, "tests/data/kernels")
    wanted = args.hostile.split(",")
    names = sorted(f[len("hostile_"):-3] for f in os.listdir(kernels_dir) if f.startswith("hostile_"))
    if args.hostile != "all":  # in the order given
        names = [n for n in wanted if n in names]
    for name in names:
        file = "hostile_%s.py" % name
        if time.perf_counter() - began > args.budget:
            print("hostile %-12s not run: the --budget of %.0f s is spent" % (name, args.budget))
            report["hostile"][name] = {"not_run": "budget"}
            continue
        verdict = problem.evaluate(honest + "\n" + load(os.path.join(kernels_dir, file)), ctx)
        report["hostile"][name] = {"valid": verdict["valid"], "failure": verdict.get("failure"),
                                   "reason": (verdict.get("reason") or "")[:300]}
        expected_valid = name in ("background", "forged")
        mark = "ok" if verdict["valid"] == expected_valid else "UNEXPECTED"
        print("hostile %-12s valid=%-5s %-16s %s %s" % (name, verdict["valid"], verdict.get("failure"), mark,
                                                        (verdict.get("reason") or "")[:70]))
        save(report, args.out)
    save(report, args.out)


def save(report, out):
    """Written after every kernel: a call cut short by its time limit still
    returns what it measured."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "trimul_gpu.json"), "w") as f:
        json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
