"""Write a discover native plugin without knowing its protocol.

A plugin is a class with three methods and a call to `serve`:

    import discover_plugin as dp

    class Squares(dp.Problem):
        def spec(self):
            return dp.spec(id="squares", title="...", direction="minimize",
                           language="python", contract="Define f(x) -> float ...")

        def initial(self, seed):
            return "def f(x):\\n    return x * x\\n"

        def evaluate(self, source, ctx):
            result = ctx.run(["/usr/bin/python3", "/job/harness.py"],
                             files={"candidate.py": source, "harness.py": HARNESS},
                             limits=dp.Limits(wall_seconds=10))
            if not result.ok:
                return dp.invalid(result.summary(), failure=result.failure, output=result.stderr_tail)
            ...check result.stdout yourself...
            return dp.valid(score, metrics={"time_us": t})

    dp.serve(Squares())

The host (`discover`) starts the plugin, speaks JSON-RPC 2.0 to it over
stdin/stdout, and restarts it if it crashes or hangs. Never run candidate code
in the plugin's own process: `ctx.run` / `ctx.spawn` run it through
`discover isolate` (bubblewrap namespaces, resource limits, a wall deadline
that kills everything it started). What a candidate prints is data to check,
never a result to trust. Anything the plugin prints goes to its log (stderr):
stdout belongs to the protocol.
"""

import json
import os
import subprocess
import sys
import tempfile
import traceback

PROTOCOL_VERSION = 1

# The interpreter candidates run under inside the sandbox (the sandbox shows
# /usr read-only, not a home directory's interpreters).
SANDBOX_PYTHON = "/usr/bin/python3"


class Problem:
    """Subclass and override spec, initial and evaluate."""

    def spec(self):
        raise NotImplementedError

    def initial(self, seed):
        raise NotImplementedError

    def evaluate(self, source, ctx):
        raise NotImplementedError


def spec(id, title, direction, language, contract, statement="", best_known=None,
         environment="", candidate_seconds=60, evaluate_millis=600000, memory_mib=4096):
    """A spec in the host's shape. `best_known` is (value, source) or None."""
    return {
        "id": id,
        "title": title,
        "statement": statement,
        "direction": direction,
        "best_known": None if best_known is None else {"value": best_known[0], "source": best_known[1]},
        "shape": {"min_len": 0, "max_len": 4294967295, "multiple_of": 1},
        "budgets": {
            "evaluate_fuel": 0,
            "evaluate_millis": evaluate_millis,
            "memory_mib": memory_mib,
            "candidate_seconds": candidate_seconds,
        },
        "language": language,
        "contract": contract,
        "environment": environment,
    }


def valid(score, metrics=None, output="", reason=None):
    return {"valid": True, "score": float(score), "reason": reason,
            "metrics": [[k, float(v)] for k, v in (metrics or {}).items()], "output": output}


def invalid(reason, failure="wrong-answer", metrics=None, output=""):
    """`failure` is one of the host's program failure kinds: wrong-answer,
    exception, timeout, time-limit, out-of-memory, output-too-large,
    runtime-error, no-result, invalid-result, syntax-error."""
    return {"valid": False, "score": None, "reason": str(reason), "failure": failure,
            "metrics": [[k, float(v)] for k, v in (metrics or {}).items()], "output": output}


class Limits:
    """Resource limits of one native candidate (see `discover isolate --help`)."""

    def __init__(self, wall_seconds=60.0, cpu_seconds=60, memory_mib=4096, processes=256,
                 file_mib=64, open_files=256, stdout_bytes=64 << 20):
        self.wall_seconds = float(wall_seconds)
        self.cpu_seconds = int(cpu_seconds)
        self.memory_mib = int(memory_mib)
        self.processes = int(processes)
        self.file_mib = int(file_mib)
        self.open_files = int(open_files)
        self.stdout_bytes = int(stdout_bytes)

    def as_dict(self):
        return dict(self.__dict__)


class Result:
    """A finished native candidate: the launcher's report and its stdout."""

    def __init__(self, report, stdout):
        self.report = report
        self.stdout = stdout

    @property
    def outcome(self):
        return self.report["outcome"]

    @property
    def ok(self):
        return self.outcome == "exited" and self.report.get("code") == 0

    @property
    def failure(self):
        """The host's program failure kind (the launcher names it), None when ok."""
        return self.report["failure"]

    @property
    def stderr_tail(self):
        return self.report.get("stderr_tail", "")

    @property
    def wall_seconds(self):
        return self.report["wall_seconds"]

    def answers(self, nonce):
        """What a harness reported behind `nonce`: the stdout lines that start
        with it, without it. Anything else the program printed is ignored."""
        lines = self.stdout.decode("utf-8", "replace").splitlines()
        return [line[len(nonce):] for line in lines if line.startswith(nonce)]

    def answer_json(self, nonce, output=""):
        """The one JSON answer behind `nonce`, as `(answer, None)`, or
        `(None, verdict)` with the invalid verdict to return: `no-result` when
        there is not exactly one answer, `invalid-result` when it is not JSON
        (only a candidate that dug the nonce out of its harness writes that)."""
        answers = self.answers(nonce)
        if len(answers) != 1:
            return None, invalid("the program gave no answer" if not answers else
                                 "the program gave %d answers, not one" % len(answers),
                                 failure="no-result", output=output)
        try:
            return json.loads(answers[0]), None
        except ValueError:
            return None, invalid("the answer behind the nonce is not JSON", failure="invalid-result", output=output)

    def summary(self):
        """The outcome in words (the launcher's own)."""
        return "the program " + self.report["summary"]


class Spawned:
    """A running native candidate (for plugins that talk to it while it runs)."""

    def __init__(self, proc, report_path, job_path, errors=None):
        self.proc = proc
        self.stdin = proc.stdin
        self.stdout = proc.stdout
        self._report_path = report_path
        self._job_path = job_path
        self._errors = errors

    def wait(self):
        """Wait for the sandbox to end; returns the launcher's report (a dict)."""
        self.proc.wait()
        try:
            with open(self._report_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            why = ""
            if self._errors is not None:
                self._errors.seek(0)
                why = self._errors.read().decode("utf-8", "replace").strip()[-2000:]
            raise RuntimeError("discover isolate failed (exit status %s): %s" % (self.proc.returncode, why))
        finally:
            for p in (self._report_path, self._job_path):
                try:
                    os.unlink(p)
                except OSError:
                    pass
            if self._errors is not None:
                self._errors.close()

    def kill(self):
        # The launcher notices it is orphaned only when its parent dies; closing
        # its stdin and killing it ends the sandbox (bubblewrap dies with it).
        try:
            self.proc.kill()
        except OSError:
            pass


class Context:
    """What `evaluate` gets: how to run candidates, and where to keep scratch."""

    def __init__(self, init):
        self.isolate = list(init["isolate"])
        self.unsafe_native = bool(init.get("unsafe_native"))
        self.scratch = init["scratch"]
        self.problem = init["problem"]
        self.python = SANDBOX_PYTHON
        runtime = os.environ.get("DISCOVER_PACK_RUNTIME")
        # A pack's installed packages: visible read-only to its candidates.
        self.read_only = [runtime] if runtime else []
        self.env = {"PYTHONPATH": runtime} if runtime else {}
        self.timeout_seconds = None

    def output_dir(self):
        """A fresh folder the next candidate may write (seen as /out inside)."""
        os.makedirs(self.scratch, exist_ok=True)
        path = tempfile.mkdtemp(prefix="out-", dir=self.scratch)
        os.chmod(path, 0o777)  # the sandbox's user is not ours
        return path

    def _job(self, argv, files, copy, limits, read_only, devices, env, lock, output_dir=None):
        job = {
            "output_dir": output_dir,
            "argv": list(argv),
            "files": dict(files or {}),
            "copy": dict(copy or {}),
            "read_only": list(self.read_only) + list(read_only or []),
            "devices": list(devices or []),
            "env": dict(self.env, **(env or {})),
            "lock": lock,
            "limits": (limits or Limits()).as_dict(),
        }
        os.makedirs(self.scratch, exist_ok=True)
        fd, job_path = tempfile.mkstemp(prefix="job-", suffix=".json", dir=self.scratch)
        with os.fdopen(fd, "w") as f:
            json.dump(job, f)
        fd, report_path = tempfile.mkstemp(prefix="report-", suffix=".json", dir=self.scratch)
        os.close(fd)
        os.unlink(report_path)
        argv = self.isolate + ["--job", job_path, "--report", report_path]
        if self.unsafe_native:
            argv.append("--unsafe-native")
        return argv, job_path, report_path

    def run(self, argv, files=None, copy=None, limits=None, stdin=b"", read_only=None, devices=None, env=None, lock=None,
            output_dir=None):
        """Run a candidate to completion in the sandbox. `files` (name -> text)
        appear read-only in /job; `copy` (name -> host path) too; `output_dir`
        (from `ctx.output_dir()`) is writable inside as /out. Returns a Result
        (the launcher's report, and the stdout bytes up to the cap)."""
        cmd, job_path, report_path = self._job(argv, files, copy, limits, read_only, devices, env, lock, output_dir)
        proc = Spawned(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE),
                       report_path, job_path)
        out, err = proc.proc.communicate(stdin)
        if proc.proc.returncode != 0:
            raise RuntimeError("discover isolate failed: %s" % err.decode("utf-8", "replace").strip()[-2000:])
        return Result(proc.wait(), out)

    def spawn(self, argv, files=None, copy=None, limits=None, read_only=None, devices=None, env=None, lock=None,
              output_dir=None):
        """Start a candidate and talk to it over its stdin/stdout; `wait()` for the report.
        `output_dir` (from `ctx.output_dir()`) is writable inside as /out."""
        cmd, job_path, report_path = self._job(argv, files, copy, limits, read_only, devices, env, lock, output_dir)
        errors = tempfile.TemporaryFile(dir=self.scratch)
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors)
        return Spawned(proc, report_path, job_path, errors)


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def serve(problem):
    """Answer the host's requests until `shutdown` or end of input."""
    # stdout is the protocol's: anything else printed goes to the log.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr
    ctx = None

    def reply(id, result=None, error=None):
        msg = {"jsonrpc": "2.0", "id": id}
        if error is not None:
            msg["error"] = error
        else:
            msg["result"] = result
        out.write(json.dumps(msg) + "\n")
        out.flush()

    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
        except ValueError:
            reply(None, error={"code": -32700, "message": "parse error"})
            continue
        id, method, params = req.get("id"), req.get("method"), req.get("params") or {}
        try:
            if method == "initialize":
                ctx = Context(params)
                result = {"protocol": PROTOCOL_VERSION, "name": type(problem).__name__}
            elif method == "spec":
                result = problem.spec()
            elif method == "initial":
                result = {"language": problem.spec()["language"], "source": problem.initial(int(params.get("seed", 0)))}
            elif method == "evaluate":
                if ctx is None:
                    raise RuntimeError("evaluate before initialize")
                ctx.timeout_seconds = params.get("timeout_seconds")
                result = problem.evaluate(params["source"], ctx)
            elif method == "shutdown":
                reply(id, None)
                return
            else:
                reply(id, error={"code": -32601, "message": "unknown method %r" % method})
                continue
        except Exception as e:  # the plugin's own failure: an error answer, and its traceback in the log
            traceback.print_exc()
            reply(id, error={"code": -32000, "message": "%s: %s" % (type(e).__name__, e)})
            continue
        reply(id, result)
