"""TriMul: the outgoing triangle multiplicative update of AlphaFold3, as a
kernel to make fast. A native plugin (see discover_plugin).

What is measured, and why it cannot be gamed the ways kernel leaderboards were:

- The candidate runs in its own fresh sandboxed process (`ctx.spawn`), never
  here; it sees the harness, the input generator and its own file, not the
  reference, not this plugin, not any output but its own.
- Lockstep: each call's seed is sent only after the previous call's output
  was delivered, so outputs cannot be cached across calls, batched into one
  launch, or computed before their inputs exist. Inputs are new values every
  repetition.
- Every output is checked, timed repetitions included, against the reference
  computed here (another process) from the same seed: mutating the inputs,
  shape-detecting the benchmark shapes to skip work, returning placeholders or
  half-precision shortcuts that fail on Cauchy inputs or real masks all fail
  the check (|out - ref| <= 2e-2 + 2e-2 |ref| everywhere).
- Times are taken inside (CUDA events after a device-wide synchronise, L2
  flushed; or the CPU clock in CPU mode) but bounded by the wall clock
  measured here from the command to the harness's first answer, which comes
  before the output is moved: a reported time less than half of what the
  outside clock can account for is a forged timer. A per-shape floor (the
  time to move the input and output at a bandwidth no machine has) catches
  times driven toward zero, which would otherwise collapse the geometric mean.
- The statistics (means, geometric mean) are computed here.
"""

import json
import math
import os
import queue
import random
import secrets
import shutil
import threading
import time

import discover_plugin as dp

HERE = os.path.dirname(os.path.abspath(__file__))

# (B, N, C, mask, distribution): the GPU shape sets (the 18 tests and the 7
# benchmarks of the TriMul task), and the reduced CPU-mode sets.
GPU_TESTS = [
    (1, 32, 128, False, "normal"), (1, 32, 128, True, "normal"), (2, 64, 256, False, "normal"),
    (2, 64, 256, True, "normal"), (1, 128, 768, False, "normal"), (1, 256, 128, False, "normal"),
    (1, 256, 128, True, "normal"), (2, 768, 128, False, "normal"), (1, 1024, 384, True, "normal"),
    (1, 1024, 768, False, "normal"), (1, 1024, 768, True, "normal"), (1, 32, 128, False, "cauchy"),
    (2, 64, 256, False, "cauchy"), (1, 128, 768, False, "cauchy"), (1, 256, 128, False, "cauchy"),
    (2, 768, 128, False, "cauchy"), (1, 1024, 384, True, "cauchy"), (1, 1024, 768, True, "cauchy"),
]
GPU_BENCHMARKS = [
    (2, 256, 128, False, "normal"), (1, 768, 128, False, "cauchy"), (2, 256, 384, True, "normal"),
    (1, 512, 128, False, "normal"), (1, 1024, 128, False, "cauchy"), (1, 768, 384, True, "normal"),
    (1, 1024, 384, False, "normal"),
]
CPU_TESTS = [
    (1, 16, 32, False, "normal"), (1, 16, 32, True, "normal"), (2, 32, 64, False, "normal"),
    (2, 32, 64, True, "normal"), (1, 48, 128, False, "cauchy"), (1, 48, 128, True, "cauchy"),
    (1, 64, 96, True, "normal"), (2, 24, 64, False, "cauchy"),
]
CPU_BENCHMARKS = [(2, 32, 64, False, "normal"), (1, 64, 128, True, "normal"), (1, 48, 64, False, "cauchy")]

ATOL = RTOL = 2e-2
# Repetitions per benchmark shape: untimed warm-ups (checked too), then timed.
WARMUP = {"cuda": 3, "cpu": 1}
REPS = {"cuda": 10, "cpu": 4}
# Seconds per call the outside clocks may run ahead of an honest kernel beyond
# twice the input generation: the pipe, JSON and scheduling; on a GPU small,
# because the smallest benchmark kernels take about 2 ms there (a 2 ms slack
# would hide a forged time on them).
SLACK = {"cuda": 0.0005, "cpu": 0.002}
# Bytes per second no memory system reaches: the floor of a shape's time.
FLOOR_BANDWIDTH = {"cuda": 8e12, "cpu": 1e12}


def shape_dict(s):
    b, n, c, mask, dist = s
    return {"b": b, "n": n, "c": c, "mask": mask, "dist": dist}


def shape_name(s):
    b, n, c, mask, dist = s
    return "b%d_n%d_c%d_%s_%s" % (b, n, c, "mask" if mask else "nomask", dist)


def descendants(root):
    """The pids below `root`, nearest first."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    order, i = [root], 0
    while i < len(order):
        order.extend(sorted(children.get(order[i], [])))
        i += 1
    return order[1:]


def find_harness(root):
    """The harness's Python process (not bubblewrap's, whose arguments name
    it too): `root` or the first process below it running Python on harness.py."""
    for pid in [root] + descendants(root):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]).startswith(b"python") and any(a.endswith(b"harness.py") for a in argv):
            return pid
    return None


def cpu_seconds(pid):
    """CPU time of a process's live threads, in seconds (nanosecond
    resolution, from the scheduler), read from outside the process."""
    total = 0
    try:
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, task)) as f:
                total += int(f.read().split()[0])
    except OSError:
        pass
    return total / 1e9


def read(name):
    with open(os.path.join(HERE, name)) as f:
        return f.read()


# OpenMP worker threads that spin after each parallel region burn CPU while
# the process waits (measured: ~8.5 ms per call after a 5 ms call on 2
# threads), which made the CPU-time bound on an honest kernel's time 2.7x its
# report under load. Passive waiting keeps CPU time to the work itself, in the
# harness and in this process, whose calibration of the harness's own work
# must match. Set before torch loads its OpenMP runtime.
PASSIVE_OPENMP = {"OMP_WAIT_POLICY": "PASSIVE"}
os.environ.update(PASSIVE_OPENMP)


class TriMul(dp.Problem):
    def __init__(self):
        import torch

        import generate
        import reference
        import transfer

        self.torch, self.generate, self.reference, self.transfer = torch, generate, reference, transfer
        reference.exact_fp32()
        forced = os.environ.get("DISCOVER_TRIMUL_DEVICE")
        self.device = forced or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tests = GPU_TESTS if self.device == "cuda" else CPU_TESTS
        self.benchmarks = GPU_BENCHMARKS if self.device == "cuda" else CPU_BENCHMARKS
        self.secret = secrets.randbits(62)
        self.overheads = {}
        # Outputs are read back through page-locked memory on a GPU.
        self.read_buffer = transfer.HostBuffer(self.device == "cuda")
        if self.device == "cuda":
            p = torch.cuda.get_device_properties(0)
            self.gpu = "%s (compute capability %d.%d, %d SMs, %.0f GiB)" % (
                p.name, p.major, p.minor, p.multi_processor_count, p.total_memory / 2**30)
        else:
            self.gpu = None

    # ------------------------------------------------------------------ spec

    def spec(self):
        cpu = self.device == "cpu"
        listing = lambda shapes: "\n".join("  B=%d N=%d C=%d %s %s" % (b, n, c, "mask" if m else "no mask", d)
                                           for b, n, c, m, d in shapes)
        statement = (
            "Make the TriMul forward pass fast: the outgoing triangle multiplicative update of AlphaFold3.\n\n"
            "x is [B, N, N, C] fp32, mask m is [B, N, N] of 0/1, hidden size H = 128:\n"
            "  xh = LayerNorm_C(x)   (weights norm.weight, norm.bias)\n"
            "  L = (xh Wl^T) * m * sigmoid(xh Gl^T);  R = (xh Wr^T) * m * sigmoid(xh Gr^T)\n"
            "  O[b,i,j,d] = sum_k L[b,i,k,d] * R[b,j,k,d]\n"
            "  out = (LayerNorm_H(O) * sigmoid(xh Go^T)) Wout^T   (no biases in the linear layers)\n"
            "Wl = left_proj.weight, Gl = left_gate.weight, Wr = right_proj.weight, Gr = right_gate.weight,\n"
            "Go = out_gate.weight ([H, C]); to_out_norm.weight/bias ([H]); Wout = to_out.weight ([C, H]).\n\n"
            "Correctness: |out - ref| <= 2e-2 + 2e-2 |ref| element-wise on every call, on these test shapes\n"
            "(inputs normal or Cauchy(0, 2); masks are real: each entry 0 or 1 with probability 1/2):\n"
            + listing(self.tests)
            + "\n\nScore (lower is better): the geometric mean over the benchmark shapes of the mean time per call\n"
            "in microseconds, new input values every call, every output checked:\n"
            + listing(self.benchmarks)
        )
        contract = (
            "A Python file defining `custom_kernel(data)`. data = (x, mask, weights, config): x [B,N,N,C] float32, "
            "mask [B,N,N] float32 of 0/1, weights a dict of float32 tensors (names above), config "
            "{'dim': C, 'hidden_dim': 128}; all on the %s. Return the output [B,N,N,C] as a float32 tensor "
            "(intermediate precision is yours; the tolerance is 2e-2). PyTorch%s are available. Each evaluation "
            "runs in a fresh process with no network and no files but a private /tmp; do not print to stdout."
            % ("GPU" if not cpu else "CPU", " and Triton" if not cpu else "")
        )
        if cpu:
            environment = ("CPU mode: no GPU on this machine. The same harness runs on the CPU (torch, %d threads) "
                           "with the reduced shapes above; times are CPU wall-clock times, comparable only with each other."
                           % self.torch.get_num_threads())
        else:
            environment = "GPU: %s. PyTorch %s, CUDA %s." % (self.gpu, self.torch.__version__, self.torch.version.cuda)
        best = (1161.0, "TTT-Discover on an H100 (1371 us best human)") if self.gpu and "H100" in self.gpu else None
        return dp.spec(
            id="trimul",
            title="TriMul: AlphaFold3 outgoing triangle multiplicative update (kernel time)",
            direction="minimize",
            language="python",
            statement=statement,
            contract=contract,
            environment=environment,
            best_known=best,
            candidate_seconds=600 if not cpu else 120,
            evaluate_millis=(900 if not cpu else 240) * 1000,
            memory_mib=16384 if not cpu else 4096,
        )

    def initial(self, seed):
        return read("starter.py")

    # -------------------------------------------------------------- evaluate

    def gpu_nodes(self):
        nodes = ["/dev/nvidia0", "/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"]
        return [n for n in nodes if os.path.exists(n)]

    def evaluate(self, source, ctx):
        budget = (ctx.timeout_seconds or 240.0) - 5.0
        deadline = time.monotonic() + budget
        rng = random.Random(self.secret ^ hash(source))
        nonce = secrets.token_hex(16)
        out_dir = ctx.output_dir()
        cuda = self.device == "cuda"
        limits = dp.Limits(
            wall_seconds=max(budget, 10.0),
            cpu_seconds=int(max(budget, 10.0)) * 4,
            memory_mib=16384 if cuda else 4096,
            processes=512,
            file_mib=4096,
            stdout_bytes=1 << 20,
        )
        job = ctx.spawn(
            [ctx.python, "/job/harness.py", self.device],  # /job is the job's folder (also in unsafe mode)
            files={"candidate.py": source, "harness.py": read("harness.py"), "generate.py": read("generate.py"),
                   "transfer.py": read("transfer.py")},
            limits=limits,
            devices=self.gpu_nodes() if cuda else [],
            lock="/tmp/discover-gpu-0.lock" if cuda else None,
            output_dir=out_dir,
            # In CPU mode Triton kernels run in Triton's interpreter (correct, slow).
            env={} if cuda else dict(PASSIVE_OPENMP, TRITON_INTERPRET="1"),
        )
        lines = queue.Queue()

        def pump():
            for raw in job.stdout:
                text = raw.decode("utf-8", "replace")
                if text.startswith(nonce):
                    try:
                        lines.put(json.loads(text[len(nonce):]))
                    except ValueError:
                        # Only a candidate that dug the nonce out of the harness writes this.
                        lines.put({"ok": False, "malformed": True})
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        try:
            job.stdin.write((nonce + "\n").encode())
            job.stdin.flush()
            verdict = self._drive(job, lines, rng, out_dir, deadline)
        except BrokenPipeError:
            verdict = None
        finally:
            try:
                job.stdin.write(b'{"op": "exit"}\n')
                job.stdin.close()
            except OSError:
                pass
        report = job.wait()
        shutil.rmtree(out_dir, ignore_errors=True)
        tail = report.get("stderr_tail", "")[-1500:]
        if verdict is None or verdict.get("_died"):
            why = dp.Result(report, b"").summary()
            failure = dp.Result(report, b"").failure or "runtime-error"
            if verdict and verdict.get("reason"):
                why = "%s (%s)" % (verdict["reason"], why)
            return dp.invalid(why, failure=failure, output=tail)
        verdict["output"] = tail
        return verdict

    def _answer(self, lines, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            return lines.get(timeout=left)
        except queue.Empty:
            return None

    def _drive(self, job, lines, rng, out_dir, deadline):
        torch = self.torch
        ready = self._answer(lines, deadline)
        if ready is None:
            job.kill()
            return {"_died": True, "reason": "the program did not start"}
        if not ready.get("ok"):
            return dp.invalid("custom_kernel could not be loaded (%s):\n%s" % (ready.get("stage"), ready.get("error", "")),
                              failure="exception")
        worst = 0.0
        counter = [0]
        harness = find_harness(job.proc.pid)

        def call(shape, timed):
            counter[0] += 1
            seed = rng.getrandbits(62)
            name = "r%d.bin" % counter[0]
            cmd = {"op": "run", "shape": shape_dict(shape), "seed": seed, "file": name, "timed": timed}
            c0 = cpu_seconds(harness) if harness else 0.0
            t0 = time.perf_counter()
            job.stdin.write((json.dumps(cmd) + "\n").encode())
            job.stdin.flush()
            # Two answers (harness.py): "timed" once the kernel is done and
            # timed, then the final one once its output is written.

            def receive(stage):
                answer = self._answer(lines, deadline)
                if answer is None:
                    job.kill()
                    return None, "the program stopped answering (or ran out of time) on %s" % shape_name(shape)
                if answer.get("malformed"):
                    return None, "a malformed answer behind the nonce on %s (a forged line)" % shape_name(shape)
                if not answer.get("ok"):
                    return None, "custom_kernel failed on %s:\n%s" % (shape_name(shape), answer.get("error", ""))
                if bool(answer.get("timed")) != (stage == "timed"):
                    return None, "a malformed answer behind the nonce on %s (out of order: a forged line)" % shape_name(shape)
                return answer, None

            timed, why = receive("timed")
            # Measured out here: the wall clock, and the CPU time the harness
            # process used (the scheduler's count, immune to other load), from
            # the command to the kernel's end.
            outer = (time.perf_counter() - t0, (cpu_seconds(harness) - c0) if harness else 0.0)
            if why:
                return None, why, outer
            answer, why = receive("final")
            if why:
                return None, why, outer
            path = os.path.join(out_dir, name)
            error = self._check(shape, seed, path, answer)
            try:
                os.unlink(path)
            except OSError:
                pass
            if isinstance(error, str):
                return None, error, outer
            return (timed["seconds"], error), None, outer

        for shape in self.tests:
            result, why, _ = call(shape, False)
            if result is None:
                return self._fail(why)
            worst = max(worst, result[1])
        means = {}
        for shape in self.benchmarks:
            for _ in range(WARMUP[self.device]):
                result, why, _ = call(shape, False)
                if result is None:
                    return self._fail(why)
                worst = max(worst, result[1])
            times, walls, cpus = [], [], []
            for _ in range(REPS[self.device]):
                result, why, outer = call(shape, True)
                if result is None:
                    return self._fail(why)
                seconds, err = result
                worst = max(worst, err)
                if not (seconds > 0 and math.isfinite(seconds)):
                    return dp.invalid("the harness reported a time of %r on %s" % (seconds, shape_name(shape)),
                                      failure="invalid-result")
                times.append(seconds)
                walls.append(outer[0])
                cpus.append(outer[1])
            mean = sum(times) / len(times)
            dp.log("trimul %s: mean %.1f us inside; outside: %.1f us wall, %.1f us of harness CPU per call" % (
                shape_name(shape), mean * 1e6, sum(walls) / len(walls) * 1e6, sum(cpus) / len(cpus) * 1e6))
            forged = self._forged(shape, times, walls, cpus)
            if forged:
                return dp.invalid(forged, failure="invalid-result")
            floor = self._floor(shape)
            if mean < floor:
                return dp.invalid(
                    "%s took %.2f us, less than moving its input and output at %.0f TB/s would (%.2f us): "
                    "the work was not done in the call" % (shape_name(shape), mean * 1e6,
                                                          FLOOR_BANDWIDTH[self.device] / 1e12, floor * 1e6),
                    failure="invalid-result")
            means[shape] = mean
        geomean = math.exp(sum(math.log(t) for t in means.values()) / len(means))
        metrics = {shape_name(s) + "_us": t * 1e6 for s, t in means.items()}
        metrics["geomean_us"] = geomean * 1e6
        metrics["worst_error_ratio"] = worst
        metrics["cpu_mode"] = 1.0 if self.device == "cpu" else 0.0
        return dp.valid(geomean * 1e6, metrics=metrics)

    def _fail(self, why):
        failure = "wrong-answer"
        if why.startswith("the program stopped"):
            return {"_died": True, "reason": why}
        if why.startswith("custom_kernel failed"):
            failure = "exception"
        if why.startswith("a malformed answer"):
            failure = "invalid-result"
        return dp.invalid(why, failure=failure)

    def _floor(self, shape):
        b, n, c, _, _ = shape
        moved = 4 * (2 * b * n * n * c + b * n * n)
        return moved / FLOOR_BANDWIDTH[self.device]

    def _overhead(self, shape):
        """What the harness does in a call before its kernel (generate the
        inputs), measured here on the same device as (wall seconds, CPU
        seconds): the part of the outside measures that is not the kernel.
        (The output is moved after the "timed" answer, outside the measures.)"""
        if shape in self.overheads:
            return self.overheads[shape]
        torch = self.torch
        samples = []
        for i in range(3):
            t0, c0 = time.perf_counter(), time.process_time()
            self.generate.make(shape_dict(shape), i, self.device)
            if self.device == "cuda":
                torch.cuda.synchronize()
            samples.append((time.perf_counter() - t0, time.process_time() - c0))
        samples.sort()
        self.overheads[shape] = samples[1]
        return samples[1]

    def _forged(self, shape, times, walls, cpus):
        """Why the reported times cannot be true, or None. Summed over a
        shape's timed calls, so one slow call (the machine was busy) proves
        nothing; only a report far below what the outside saw does.

        The wall clock out here from the command to the "timed" answer, minus
        twice the harness's own work before the kernel (input generation), is
        at most the kernel's true time plus noise; so is, in CPU mode, the
        harness process's CPU time read from the scheduler, over the threads
        it may use. Each can be inflated
        by something honest (other load stretches the wall clock; OpenMP
        threads spinning between regions would add CPU time, which is why the
        harness waits passively), never both by the same thing, so the smaller
        of the two is the bound. A report under half of
        it is a forged timer or work deferred past the timer."""
        wall_overhead, cpu_overhead = self._overhead(shape)
        reported = sum(times)
        slack = SLACK[self.device]
        bounds = {"wall-clock time": sum(walls) - len(walls) * (2 * wall_overhead + slack)}
        if self.device == "cpu":
            threads = max(1, self.torch.get_num_threads())
            cpu = (sum(cpus) - len(cpus) * (2 * cpu_overhead + slack)) / threads
            bounds["CPU time the process used (on %d threads)" % threads] = cpu
        what, outside = min(bounds.items(), key=lambda kv: kv[1])
        if reported < 0.5 * outside:
            return ("timing is inconsistent on %s: %.1f us per call reported, but the %s, measured outside the program, "
                    "accounts for at least %.1f us (a patched timer, or work deferred past the timer)"
                    % (shape_name(shape), reported / len(times) * 1e6, what, outside / len(times) * 1e6))
        return None

    def _check(self, shape, seed, path, answer):
        """The worst |out - ref| / (atol + rtol |ref|) (<= 1 passes), or why it failed."""
        torch = self.torch
        b, n, c, _, _ = shape
        expected = [b, n, n, c]
        if answer.get("shape") != expected:
            return "%s: the output has shape %s, not %s" % (shape_name(shape), answer.get("shape"), expected)
        try:
            size = os.path.getsize(path)
        except OSError:
            return "%s: no output was written" % shape_name(shape)
        if size != 4 * b * n * n * c:
            return "%s: the output file has %d bytes, not %d" % (shape_name(shape), size, 4 * b * n * n * c)
        out = self.transfer.read_output(path, (b, n, n, c), self.device, self.read_buffer)
        if out is None:
            return "%s: the output file was cut short while it was read" % shape_name(shape)
        with torch.no_grad():
            ref = self.reference.trimul(self.generate.make(shape_dict(shape), seed, self.device))
        ratio = (out - ref).abs() / (ATOL + RTOL * ref.abs())
        # NaN compares false: a NaN anywhere is a failure.
        bad = ~(ratio <= 1.0)
        if bool(bad.any()):
            count = int(bad.sum())
            where = tuple(int(v) for v in bad.nonzero()[0])
            return ("%s: %d of %d values are wrong (beyond 2e-2 + 2e-2|ref|); first at %s: got %r, expected %r"
                    % (shape_name(shape), count, out.numel(), where, float(out[where]), float(ref[where])))
        return float(ratio.max())


if __name__ == "__main__":
    import sys

    sys.path.insert(0, HERE)
    dp.serve(TriMul())
