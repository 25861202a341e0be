"""Workload 3: Prefect's own client-side benchmarks as a user runs them.

The official prefect client runs each flow against PREFECT_API_URL and this
prints one JSON line per run: {"case", "rep", "seconds", "ok", "error"}.
Called by the Go harness (tools/bench) with the pinned venv's python:

    python client_flows.py --reps 3 --deadline 120
"""

import argparse
import json
import sys
import time

from prefect import flow, task


@task
def noop(i: int) -> int:
    return i


@flow
def submitted_tasks(n: int) -> None:
    futures = [noop.submit(i) for i in range(n)]
    for f in futures:
        f.result()


@flow
def called_tasks(n: int) -> None:
    for i in range(n):
        noop(i)


@flow
def child() -> int:
    return 1


@flow
def subflows(n: int) -> None:
    for _ in range(n):
        child()


CASES = [
    ("10 submitted tasks", submitted_tasks, 10),
    ("50 submitted tasks", submitted_tasks, 50),
    ("100 submitted tasks", submitted_tasks, 100),
    ("250 called tasks", called_tasks, 250),
    ("20 subflows", subflows, 20),
]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--deadline", type=float, default=120.0)
    args = parser.parse_args()
    stop_at = time.monotonic() + args.deadline
    # One warm-up run so that imports and the client's first connection are
    # not counted in the first case.
    submitted_tasks(1)
    for rep in range(args.reps):
        for name, fn, n in CASES:
            if time.monotonic() > stop_at:
                return 0
            start = time.perf_counter()
            ok, error = True, None
            try:
                state = fn(n, return_state=True)
                ok = state.is_completed()
                if not ok:
                    error = f"final state {state.type.value}"
            except Exception as exc:  # a failed run is reported, not fatal
                ok, error = False, repr(exc)[:300]
            seconds = time.perf_counter() - start
            print(json.dumps({"case": name, "rep": rep, "seconds": seconds, "ok": ok, "error": error}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
