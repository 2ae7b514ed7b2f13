# Runs once, inside `discover setup`, in the interpreter that Wizer then
# snapshots: every candidate starts from the state this leaves behind.
#
# 1. Import what candidates use, so that they do not pay for it (about 1.4 s).
# 2. Define `_discover_run`, the harness. Each candidate's instance runs the one
#    line `_discover_run()`; the harness reads its request from stdin, runs the
#    program, calls its entry function and reports on stdout behind a marker.
#
# The report is one line: "\x1e" "discover-result " NONCE " " STATUS " " BODY.
# The nonce is fresh per candidate and read from stdin before any candidate code
# runs, so a program that prints a look-alike line does not forge a report. (A
# program that digs the nonce out of the harness's frame could claim a result it
# did not return; that result is still only a claim: the problem's verifier
# scores whatever is reported.)

import builtins
import gc
import io
import json
import json.encoder
import math
import os
import random
import sys
import traceback

import numpy
import scipy
import scipy.optimize


class _Invalid(Exception):
    pass


def _discover_convert(result, max_len):
    """The returned value as a flat list of Python floats, or _Invalid."""
    np = numpy
    if isinstance(result, np.ndarray):
        array = result
    elif isinstance(result, (list, tuple)):
        if len(result) > max_len:
            raise _Invalid(f"solve returned {len(result)} items; a solution has at most {max_len} numbers")
        try:
            array = np.asarray(result)
        except Exception as e:
            raise _Invalid(f"solve returned a list that is not numbers of one shape ({type(e).__name__}: {e})")
    else:
        raise _Invalid(
            f"solve returned a {type(result).__name__}; it must return a list of numbers or a numpy array"
        )
    if array.dtype.kind not in "biuf":
        raise _Invalid(f"solve returned values of type {array.dtype}; a solution holds numbers only")
    if array.size > max_len:
        raise _Invalid(f"solve returned {array.size} numbers; a solution has at most {max_len}")
    return array.astype(np.float64).ravel().tolist()


def _discover_run(
    _write=os.write,
    _repr=float.__repr__,
    _quote=json.encoder.encode_basestring_ascii,
    _loads=json.loads,
    _format=traceback.format_exception,
    _convert=_discover_convert,
    _stdout=sys.stdout,
    _stderr=sys.stderr,
):
    request = _loads(sys.stdin.buffer.read())
    marker = ("\x1e" "discover-result " + request.pop("nonce") + " ").encode()

    def report(status, body):
        for stream in (_stdout, _stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        line = memoryview(marker + status.encode() + b" " + body.encode() + b"\n")
        while line:
            line = line[_write(1, line):]

    # The snapshot fixed the generators' seeds; each candidate gets fresh ones.
    random.seed()
    numpy.random.seed()

    program = request["program"]
    entry = request["entry"]
    try:
        code = compile(program, "candidate.py", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as e:
        where = f"line {e.lineno}: " if getattr(e, "lineno", None) else ""
        text = f"\n    {e.text.rstrip()}" if getattr(e, "text", None) else ""
        report("syntax-error", _quote(f"{type(e).__name__}: {where}{getattr(e, 'msg', e)}{text}"))
        return
    namespace = {
        "__name__": "candidate",
        "__builtins__": builtins,
        "BUDGET_SECONDS": request["budget_seconds"],
    }
    try:
        exec(code, namespace)
        solve = namespace.get(entry)
        if not callable(solve):
            report("no-result", _quote(f"the program defines no function `{entry}`"))
            return
        parent = list(request["parent"])
        result = solve(parent, numpy.array(parent, dtype=numpy.float64))
    except SystemExit as e:
        report("no-result", _quote(f"the program called exit({e.code!r}) before `{entry}` returned"))
        return
    except BaseException as e:
        # Drop the harness's own frame: the traceback starts in the candidate.
        lines = _format(type(e), e, e.__traceback__.tb_next if e.__traceback__ else None)
        report("exception", _quote(type(e).__name__) + " " + _quote("".join(lines)[-4000:]))
        return
    try:
        values = _convert(result, request["max_len"])
    except _Invalid as e:
        report("invalid-result", _quote(str(e)))
        return
    except BaseException as e:
        report("invalid-result", _quote(f"reading the returned value raised {type(e).__name__}: {e}"))
        return
    report("ok", ",".join(map(_repr, values)))


gc.collect()
