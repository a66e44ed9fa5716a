"""`python -m tests.publisher_process`: start many `s3pypi` processes that act at the same moment.

Starting Python and importing boto3 takes half a second of CPU per process, so this process
does it once and then forks one child per command: each child is a process of its own that
runs `s3pypi ARGS...` (the console script's entry point) with its own stdout and stderr, once
released. The protocol, one line each:

    -> {"argv": [...], "out": "PATH", "env": {...}}   one per command, then an empty line
    <- "pid N"                                        one per command, then "ready"
    -> "go"                                           releases every child at once
    <- "exit N CODE"                                  one per child as it ends (CODE < 0: signal)
"""

from __future__ import annotations

import json
import os
import sys
import traceback

import boto3

from s3pypi_core.cli import main


def _child(spec: dict[str, object], release: int) -> None:
    out = str(spec["out"])
    os.environ.update({str(k): str(v) for k, v in dict(spec.get("env") or {}).items()})  # type: ignore[call-overload]
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(os.open(out + ".stdout", os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 1)
    os.dup2(os.open(out + ".stderr", os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)
    code = 1
    try:
        if os.read(release, 1) != b"x":
            return  # never released: the test gave up
        main([str(a) for a in spec["argv"]])  # type: ignore[attr-defined]
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve() -> None:
    boto3.Session().client("s3", region_name="us-east-1")  # import what a client needs
    specs = []
    while line := sys.stdin.readline().strip():
        specs.append(json.loads(line))
    release, go = os.pipe()
    children = []
    for spec in specs:
        pid = os.fork()
        if pid == 0:
            os.close(go)
            _child(spec, release)
        children.append(pid)
        print(f"pid {pid}", flush=True)
    os.close(release)
    print("ready", flush=True)
    if sys.stdin.readline().strip() == "go":
        os.write(go, b"x" * len(children))
    os.close(go)
    for _ in children:
        pid, status = os.wait()
        print(f"exit {pid} {os.waitstatus_to_exitcode(status)}", flush=True)


if __name__ == "__main__":
    serve()
