"""The {name} problem: a native plugin skeleton.

A candidate is a Python program defining `solve(n) -> list of n floats`. The
score (minimized) is the energy of n points on [0, 1] repelling each other:
sum over pairs of 1 / |x_i - x_j|. Evenly spaced points are optimal.

Edit `spec`, `initial` and `evaluate` for your problem. The pattern to keep:
the candidate runs in the sandbox (`ctx.run`), never in this process; what it
prints is only data, checked here.
"""

import secrets

import discover_plugin as dp

N = 12

# Runs inside the sandbox with the candidate: import it, call solve, print the
# answer behind a nonce the candidate cannot know in advance.
HARNESS = r"""
import json, sys
nonce = sys.stdin.readline().strip()
sys.path.insert(0, "/job")
import candidate
xs = [float(v) for v in candidate.solve(int(sys.argv[1]))]
sys.stdout.write("\n" + nonce + json.dumps(xs) + "\n")
"""


def energy(xs):
    e = 0.0
    for i in range(len(xs)):
        for j in range(i + 1, len(xs)):
            d = abs(xs[i] - xs[j])
            if d == 0:
                return float("inf")
            e += 1.0 / d
    return e


class Problem(dp.Problem):
    def spec(self):
        return dp.spec(
            id="{name}",
            title="Repelling points on a segment",
            direction="minimize",
            language="python",
            statement="Place %d points in [0, 1] to minimise the sum over pairs of 1/|x_i - x_j|." % N,
            contract="Define `solve(n)` returning a list of n floats in [0, 1]. "
                     "The program runs with no network and a private /tmp, for at most 10 s.",
            candidate_seconds=10,
            evaluate_millis=30000,
        )

    def initial(self, seed):
        return "import random\n\ndef solve(n):\n    rng = random.Random(%d)\n    return sorted(rng.random() for _ in range(n))\n" % seed

    def evaluate(self, source, ctx):
        nonce = secrets.token_hex(16)
        result = ctx.run(
            [ctx.python, "/job/harness.py", str(N)],
            files={"candidate.py": source, "harness.py": HARNESS},
            stdin=(nonce + "\n").encode(),
            limits=dp.Limits(wall_seconds=10, cpu_seconds=10, memory_mib=1024, stdout_bytes=1 << 20),
        )
        output = result.stderr_tail[-500:]
        if not result.ok:
            return dp.invalid(result.summary(), failure=result.failure, output=output)
        xs, failed = result.answer_json(nonce, output=output)
        if failed:
            return failed
        if len(xs) != N or not all(isinstance(x, (int, float)) and 0.0 <= x <= 1.0 for x in xs):
            return dp.invalid("solve(%d) must return %d numbers in [0, 1]" % (N, N), failure="invalid-result", output=output)
        e = energy(xs)
        if e == float("inf"):
            return dp.invalid("two points coincide", failure="invalid-result", output=output)
        return dp.valid(e, metrics={"energy": e, "wall_seconds": result.wall_seconds}, output=output)


if __name__ == "__main__":
    dp.serve(Problem())
