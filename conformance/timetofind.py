"""``python -m conformance.timetofind``: wall-clock time to find each seeded fault, a campaign beside plain pytest.

    python -m conformance.timetofind [--fault NAME ...] [--seeds 3 | --seed-list 1,2,3] [--cap 120]
                                     [--workers CORES] [--pytest-seed per-test|hypothesis] [--to-exit]

For every seeded fault (``controlplane/faults.py``, or the ``--fault`` subset) and every seed (drawn afresh and
printed, ``--seed-list`` repeats a run), two hunts, one after the other, each a fresh process tree timed from its
launch:

- campaign: ``python -m conformance.campaign --fault F --stop-on-failure --workers CORES --machine M --seed SEED
  --db DIR``, where ``M`` is the machine that hunts the fault (``conformance/runner.py``: ``base_for_fault``) and
  ``DIR`` a fresh directory database, so nothing found before is replayed. Found: its line ``campaign: failure in
  ...``, which a worker sends once Hypothesis has shrunk the failure.
- pytest: ``python -m pytest -n auto -x -q -p no:cacheprovider -p conformance.timetofind TEST_FILE --fault F``,
  ``TEST_FILE`` the machine's tests (``conformance/test_apiserver.py``, ``test_scheduler.py`` or
  ``test_concurrency.py``), with ``KUBEPROP_DATABASE`` a fresh directory. Found: the first failed test's report,
  which this module, loaded as a pytest plugin, writes the moment the test fails (after Hypothesis' shrinking,
  as for the campaign). With ``--pytest-seed per-test`` (the default) every test draws from a seed derived from
  SEED and its node id (Hypothesis' own per-process random, seeded here), so the shards of a machine explore
  apart as in a plain run; ``--pytest-seed hypothesis`` passes ``--hypothesis-seed=SEED`` instead, with which
  Hypothesis gives every test the same draws (its shards are then copies of one search) and uses no database.

The hunt is stopped (its process group killed) at the first failure, so the time is to the first failure
reported, shrinking included, not to the process's exit; ``--to-exit`` lets each hunt end by itself and records
its exit too. A hunt that has found nothing after ``--cap`` seconds (default 120) is stopped and counts as not
found. Found means a violation of the invariant the fault names or of one the same bug breaks as a consequence
(``Fault.also``); a hunt that fails on another invariant, or ends in an error, is reported as such, never as
found. The hunts' environment has no ``CI`` variable, so Hypothesis' CI profile does not derandomize them.

Prints a line per hunt, then a table: per fault and mode the median seconds over the seeds that found it, how
many found it, the slowest, and a flag where a hunt took over 60 s or found nothing. The table goes also to
``reports/timetofind.md`` and ``reports/timetofind.json`` (``--out``), each hunt's output to
``reports/timetofind/``. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from conformance.matrix import stop_group

ROOT = Path(__file__).resolve().parent.parent
#: the machine that hunts a fault -> its tests
TEST_FILES = {"api": "conformance/test_apiserver.py", "scheduler": "conformance/test_scheduler.py",
              "concurrent": "conformance/test_concurrency.py", "nodes": "conformance/test_nodes.py"}
MODES = ("campaign", "pytest")
#: the issue's bound: a fault found later than this (or not at all) is flagged
BOUND = 60.0
#: the plugin writes the first failure here (JSON), and seeds every test from the seed here
MARK_ENV = "KUBEPROP_TIMETOFIND_MARK"
SEED_ENV = "KUBEPROP_TIMETOFIND_SEED"
CAMPAIGN_FAILURE = "campaign: failure in "

FOUND, OTHER, ERROR, NOT_FOUND = "found", "other invariant", "error", "not found"


# --------------------------------------------------------------------------- the plugin pytest runs with


def pytest_runtest_setup(item: Any) -> None:
    """Seed Hypothesis' per-process random from SEED and the test's node id: every test its own repeatable draws,
    whichever worker runs it and after whichever tests."""
    value = os.environ.get(SEED_ENV)
    if value is None:
        return
    from hypothesis import core

    core.threadlocal._hypothesis_global_random = random.Random(f"{value}:{item.nodeid}")


def pytest_runtest_makereport(item: Any, call: Any) -> None:
    """The first failed test of the run (in any xdist worker) writes what it broke to MARK_ENV's file."""
    path = os.environ.get(MARK_ENV)
    if not path or call.excinfo is None or call.excinfo.errisinstance(_skip_exception()):
        return
    from conformance.invariants import violations_in

    exc = call.excinfo.value
    now, clock = time.time(), time.perf_counter()
    # when this process's first failing example ran, before Hypothesis shrank it (the machines note it)
    noted = (("conformance.machines", "CheckedMachine"), ("conformance.concurrency", "ConcurrentMachine"))
    firsts = [getattr(getattr(sys.modules.get(m), c, None), "first_failure_at", None) for m, c in noted]
    first = min((f for f in firsts if f is not None), default=None)
    row = {"at": now, "first_example_at": None if first is None else now - (clock - first),
           "test": item.nodeid, "when": call.when,
           "invariants": list(dict.fromkeys(v.invariant for v in violations_in(exc))),
           "error": f"{type(exc).__name__}: {first_line(str(exc))}"}
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)  # the first failure only, whichever worker
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(row))


def _skip_exception() -> type[BaseException]:
    import pytest

    return pytest.skip.Exception


# --------------------------------------------------------------------------- judging and summing up (pure)


def first_line(text: str, width: int = 160) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[0][:width] if lines else ""


def campaign_failure(output: str) -> tuple[str, str, str] | None:
    """The first failure a campaign's output reports: (machine, invariant or error type, first message line)."""
    for line in output.splitlines():
        if line.startswith(CAMPAIGN_FAILURE):
            # campaign: failure in MACHINE after T s (worker W): INVARIANT: FIRST LINE
            machine, _, rest = line[len(CAMPAIGN_FAILURE):].partition(" after ")
            _, _, said = rest.partition("): ")
            invariant, _, message = said.partition(": ")
            return machine, invariant, message
    return None


def judge(wanted: Sequence[str], reported: Iterable[str], known: Iterable[str]) -> str:
    """``found`` when a failure reported an invariant in ``wanted`` (the fault's own, then its consequences),
    ``other invariant`` when it reported only other known invariants, ``error`` when it reported none."""
    reported = list(reported)
    if any(r in wanted for r in reported):
        return FOUND
    known = set(known)
    return OTHER if any(r in known for r in reported) else ERROR


@dataclass
class Hunt:
    fault: str
    mode: str
    seed: int
    outcome: str = NOT_FOUND
    #: seconds from launch to the failure reported (None when nothing was reported)
    seconds: float | None = None
    #: seconds from launch to the process's own exit (None when it was stopped)
    exit_seconds: float | None = None
    exit_code: int | None = None
    #: pytest only: seconds from launch to the first failing example, before shrinking (the campaign says only
    #: when its worker reported the shrunk failure)
    first_example: float | None = None
    reported: list[str] = field(default_factory=list)
    detail: str = ""
    log: str = ""

    @property
    def found(self) -> bool:
        return self.outcome == FOUND


@dataclass
class Row:
    fault: str
    invariant: str
    #: per mode: median seconds over the hunts that found it (None if none), found, hunts, slowest found, over
    modes: dict[str, dict[str, Any]]


def summarize(hunts: Sequence[Hunt], invariants: dict[str, str], bound: float = BOUND) -> list[Row]:
    """One row per fault, in the order the hunts ran."""
    rows: dict[str, Row] = {}
    for h in hunts:
        rows.setdefault(h.fault, Row(h.fault, invariants.get(h.fault, "?"), {}))
    for row in rows.values():
        for mode in MODES:
            mine = [h for h in hunts if h.fault == row.fault and h.mode == mode]
            if not mine:
                continue
            times = [h.seconds for h in mine if h.found and h.seconds is not None]
            firsts = [h.first_example for h in mine if h.found and h.first_example is not None]
            row.modes[mode] = {
                "median": statistics.median(times) if times else None,
                "found": len(times), "hunts": len(mine),
                "max": max(times) if times else None,
                # pytest only: the median time to the first failing example, before shrinking
                "first": statistics.median(firsts) if firsts else None,
                # over the bound: a hunt that took longer, or found nothing (within its cap, or at all)
                "over": any(not h.found or h.seconds is None or h.seconds > bound for h in mine),
                "otherwise": [f"{h.seed}: {h.outcome}" + (f" ({', '.join(h.reported) or h.detail})"
                                                           if h.outcome in (OTHER, ERROR) else
                                                           f" ({h.detail})" if h.detail else "")
                              for h in mine if not h.found],
            }
    return list(rows.values())


def _cell(mode: dict[str, Any] | None) -> str:
    if mode is None:
        return "-"
    median = "-" if mode["median"] is None else f"{mode['median']:.1f}"
    return f"{median} ({mode['found']}/{mode['hunts']})"


def _max(mode: dict[str, Any] | None, key: str = "max") -> str:
    return "-" if mode is None or mode.get(key) is None else f"{mode[key]:.1f}"


def render_markdown(rows: Sequence[Row], bound: float = BOUND) -> str:
    lines = [f"| fault | invariant | campaign median s (found) | campaign max s | pytest median s (found) | "
             f"pytest max s | pytest first failing example s | over {bound:.0f} s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        c, p = r.modes.get("campaign"), r.modes.get("pytest")
        over = [m for m in MODES if r.modes.get(m, {}).get("over")]
        lines.append(f"| {r.fault} | {r.invariant} | {_cell(c)} | {_max(c)} | {_cell(p)} | {_max(p)} | "
                     f"{_max(p, 'first')} | {', '.join(over) or '-'} |")
    notes = [f"- {r.fault}, {m}: " + "; ".join(r.modes[m]["otherwise"])
             for r in rows for m in MODES if r.modes.get(m, {}).get("otherwise")]
    if notes:
        lines += ["", "Hunts that did not find their fault (seed: outcome):", "", *notes]
    return "\n".join(lines) + "\n"


def render_text(rows: Sequence[Row], bound: float = BOUND) -> str:
    head = (f"{'fault':<40}{'invariant':<30}{'campaign s':>16}{'max':>8}{'pytest s':>16}{'max':>8}{'first':>8}  "
            f"over {bound:.0f} s")
    lines = [head]
    for r in rows:
        c, p = r.modes.get("campaign"), r.modes.get("pytest")
        over = [m for m in MODES if r.modes.get(m, {}).get("over")]
        lines.append(f"{r.fault:<40}{r.invariant:<30}{_cell(c):>16}{_max(c):>8}{_cell(p):>16}{_max(p):>8}"
                     f"{_max(p, 'first'):>8}  {', '.join(over) or '-'}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- running hunts


def machine_of(fault: str) -> str:
    """The name of the machine that hunts a fault (``conformance/runner.py``: ``base_for_fault``)."""
    from conformance.concurrency import ConcurrentMachine
    from conformance.kubelet import KubeletMachine
    from conformance.runner import base_for_fault
    from conformance.scheduling import SchedulerMachine

    base = base_for_fault(fault)
    return {ConcurrentMachine: "concurrent", SchedulerMachine: "scheduler", KubeletMachine: "nodes"}.get(base, "api")


def command(mode: str, fault: str, seed: int, *, workers: int, scratch: Path,
            pytest_seed: str) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of one hunt, its database (and marks) in ``scratch``."""
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["KUBEPROP_REPRO_DIR"] = str(scratch / "repro")  # not the shared reports/repro
    env.pop("KUBEPROP_FAULTS", None)
    machine = machine_of(fault)
    if mode == "campaign":
        env.pop("KUBEPROP_DATABASE", None)
        return [sys.executable, "-m", "conformance.campaign", "--fault", fault, "--stop-on-failure",
                "--workers", str(workers), "--machine", machine, "--seed", str(seed), "--db", str(scratch / "db"),
                "--every", "30"], env
    env["KUBEPROP_DATABASE"] = str(scratch / "db")
    env[MARK_ENV] = str(scratch / "first-failure.json")
    cmd = [sys.executable, "-m", "pytest", "-n", "auto", "-x", "-q", "-p", "no:cacheprovider",
           "-p", "conformance.timetofind", TEST_FILES[machine], "--fault", fault]
    if pytest_seed == "hypothesis":
        cmd.append(f"--hypothesis-seed={seed}")
    else:
        env[SEED_ENV] = str(seed)
    return cmd, env


def hunt(mode: str, fault: str, seed: int, *, wanted: Sequence[str], known: Iterable[str], workers: int,
         cap: float, to_exit: bool, logs: Path, pytest_seed: str) -> Hunt:
    result = Hunt(fault, mode, seed)
    scratch = logs / f"{fault}-{mode}-{seed}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    log = scratch / "output.log"
    result.log = os.path.relpath(log, ROOT)
    mark = scratch / "first-failure.json"
    cmd, env = command(mode, fault, seed, workers=workers, scratch=scratch, pytest_seed=pytest_seed)
    (scratch / "command").write_text(" ".join(cmd) + "\n")
    wall0, t0 = time.time(), time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        while True:
            code = proc.poll()
            now = time.monotonic() - t0
            if result.seconds is None:
                if mode == "campaign":
                    said = campaign_failure(log.read_text(errors="replace"))
                    if said is not None:
                        result.seconds, result.reported = now, [said[1]]
                        result.detail = first_line(said[2])
                elif mark.exists() and mark.stat().st_size:
                    row = json.loads(mark.read_text())
                    result.seconds = row["at"] - wall0
                    if row.get("first_example_at") is not None:
                        result.first_example = row["first_example_at"] - wall0
                    result.reported = row["invariants"]
                    result.detail = row["error"] if not row["invariants"] else f"{row['test']}"
            if code is not None:
                result.exit_code, result.exit_seconds = code, now
                break
            if (result.seconds is not None and not to_exit) or now > cap:
                break
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            stop_group(proc)  # the campaign's or pytest's workers with it
    if result.seconds is not None:
        result.outcome = judge(wanted, result.reported, known)
    elif result.exit_code == 0 and mode == "pytest":
        result.detail = "passed: ran its whole budget"
    elif result.exit_code is not None:  # it ended and reported no failure: pytest's error, or a campaign whose
        result.outcome = ERROR  # workers all ended (it runs until a failure)
        tail = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
        result.detail = f"exit {result.exit_code}: " + (tail[-1][:200] if tail else "no output")
    else:
        result.detail = f"stopped at the {cap:.0f} s cap"
    if result.seconds is not None and result.seconds > cap:  # reported after the cap (seen late): not found
        result.outcome, result.detail = NOT_FOUND, f"reported at {result.seconds:.1f} s, after the cap"
    shutil.rmtree(scratch / "db", ignore_errors=True)
    return result


def _progress(i: int, n: int, h: Hunt) -> str:
    when = f" at {h.seconds:.1f} s" if h.seconds is not None else ""
    if h.first_example is not None:
        when += f" (first failing example at {h.first_example:.1f} s)"
    said = f" ({', '.join(h.reported)})" if h.reported else ""
    extra = f"; {h.detail}" if h.detail and not h.found else ""
    exit_ = f", exit {h.exit_code} at {h.exit_seconds:.1f} s" if h.exit_seconds is not None else ""
    return (f"timetofind [{time.strftime('%H:%M:%S')}] {i}/{n} {h.fault} {h.mode} seed {h.seed}: "
            f"{h.outcome}{said}{when}{exit_}{extra}")


def write_reports(out: Path, hunts: Sequence[Hunt], rows: Sequence[Row], meta: dict[str, Any]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(
        {**meta, "hunts": [asdict(h) for h in hunts], "rows": [asdict(r) for r in rows]}, indent=1) + "\n")
    head = (f"Time to find each seeded fault: `{meta['command']}`\n\nseeds {','.join(map(str, meta['seeds']))}; "
            f"{meta['workers']} campaign workers, pytest -n auto ({meta['pytest_seed']} seeding); cap "
            f"{meta['cap']:.0f} s; times to the first failure reported (shrinking included)"
            + (", exits recorded" if meta["to_exit"] else "") + "\n\n")
    out.with_suffix(".md").write_text(head + render_markdown(rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.timetofind", description=__doc__.split("\n\n")[0])
    parser.add_argument("--fault", action="append", default=[], help="only these faults (repeatable)")
    parser.add_argument("--seeds", type=int, default=3, help="random seeds per fault (default 3)")
    parser.add_argument("--seed-list", type=lambda t: [int(x) for x in t.split(",")], default=None,
                        help="these seeds instead of random ones (comma-separated), to repeat a run")
    parser.add_argument("--cap", type=float, default=120.0, help="seconds after which a hunt counts as not found")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="campaign worker processes (default: cores; pytest runs -n auto)")
    parser.add_argument("--mode", action="append", choices=MODES, default=[], help="only this mode (repeatable)")
    parser.add_argument("--pytest-seed", choices=("per-test", "hypothesis"), default="per-test",
                        help="per-test: each test its own draws from SEED and its node id (default); hypothesis: "
                             "--hypothesis-seed=SEED, the same draws in every test")
    parser.add_argument("--to-exit", action="store_true",
                        help="let each hunt exit by itself after its first failure, recording when")
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "timetofind",
                        help="reports OUT.md and OUT.json, each hunt's output under OUT/")
    parser.add_argument("--render", type=Path, default=None, metavar="JSON",
                        help="run nothing: print the table of an earlier run from its JSON report")
    args = parser.parse_args(argv)
    if args.render is not None:
        saved = json.loads(args.render.read_text())
        hunts = [Hunt(**h) for h in saved["hunts"]]
        rows = summarize(hunts, {r["fault"]: r["invariant"] for r in saved["rows"]})
        print(render_text(rows) + "\n\n" + render_markdown(rows), end="")
        return 0

    from adapters.inprocess import consequences, known_faults
    from conformance.invariants import INVARIANTS

    invariants = {f: inv for f, inv, _ in known_faults()}
    unknown = [f for f in args.fault if f not in invariants]
    if unknown:
        parser.error(f"unknown fault(s): {', '.join(unknown)}")
    faults = [f for f in invariants if not args.fault or f in args.fault]
    seeds = args.seed_list or [random.SystemRandom().randrange(2**32) for _ in range(args.seeds)]
    modes = tuple(m for m in MODES if not args.mode or m in args.mode)
    meta = {"command": " ".join(["python -m conformance.timetofind", *(argv if argv is not None else sys.argv[1:])]),
            "seeds": seeds, "cap": args.cap, "workers": args.workers, "pytest_seed": args.pytest_seed,
            "to_exit": args.to_exit, "cores": os.cpu_count()}
    print(f"timetofind: {len(faults)} fault(s) x {len(seeds)} seed(s) x {', '.join(modes)}; cap {args.cap:.0f} s; "
          f"campaign {args.workers} workers, pytest -n auto ({args.pytest_seed} seeding); "
          f"{'to each exit' if args.to_exit else 'each stopped at its first failure'}\n"
          f"seeds: {','.join(map(str, seeds))}", flush=True)
    hunts: list[Hunt] = []
    total = len(faults) * len(seeds) * len(modes)
    for fault in faults:
        wanted = (invariants[fault], *consequences(fault))
        for seed in seeds:
            for mode in modes:
                h = hunt(mode, fault, seed, wanted=wanted, known=INVARIANTS, workers=args.workers, cap=args.cap,
                         to_exit=args.to_exit, logs=args.out, pytest_seed=args.pytest_seed)
                hunts.append(h)
                print(_progress(len(hunts), total, h), flush=True)
                write_reports(args.out, hunts, summarize(hunts, invariants), meta)
    rows = summarize(hunts, invariants)
    print("\n" + render_text(rows))
    over = [f"{r.fault} ({', '.join(m for m in MODES if r.modes.get(m, {}).get('over'))})"
            for r in rows if any(r.modes.get(m, {}).get("over") for m in MODES)]
    print(f"over {BOUND:.0f} s or not found: {', '.join(over) if over else 'none'}")
    print(f"reports: {os.path.relpath(args.out.with_suffix('.md'), ROOT)}, "
          f"{os.path.relpath(args.out.with_suffix('.json'), ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
