"""A plugin whose evaluate misbehaves when the candidate's source says so.

The candidate's first line picks the behaviour: `# crash` (the plugin exits
mid-call), `# hang` (it never answers), `# garbage` (it writes a non-JSON line
on the protocol's stdout), `# raise` (it answers with an error), `# pid` (the
score is the plugin's process id). Anything else is run in the sandbox: the
program prints a number, the score (minimized).
"""

import os
import sys
import time

import discover_plugin as dp


class Flaky(dp.Problem):
    def spec(self):
        return dp.spec(
            id="flaky",
            title="A flaky plugin",
            direction="minimize",
            language="python",
            contract="Print one number; it is the score (lower is better).",
            candidate_seconds=5,
            evaluate_millis=3000,
        )

    def initial(self, seed):
        return "print(100)\n"

    def evaluate(self, source, ctx):
        first = source.splitlines()[0].strip() if source.strip() else ""
        if first == "# crash":
            dp.log("flaky: crashing on purpose")
            os._exit(3)
        if first == "# hang":
            time.sleep(3600)
        if first == "# garbage":
            os.write(1, b"this is not JSON-RPC\n")
            time.sleep(3600)
        if first == "# raise":
            raise ValueError("the plugin refuses this one")
        if first == "# pid":
            time.sleep(0.2)
            return dp.valid(os.getpid(), metrics={"pid": os.getpid()})
        result = ctx.run([ctx.python, "/job/c.py"], files={"c.py": source}, limits=dp.Limits(wall_seconds=5, cpu_seconds=5, memory_mib=512))
        if not result.ok:
            return dp.invalid(result.summary(), failure=result.failure, output=result.stderr_tail)
        try:
            value = float(result.stdout.decode().split()[-1])
        except (ValueError, IndexError):
            return dp.invalid("the program printed no number", failure="no-result")
        return dp.valid(value, metrics={"value": value})


if __name__ == "__main__":
    dp.serve(Flaky())
