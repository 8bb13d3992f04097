"""``make matrix``: the API-server conformance suite against several Kubernetes releases, one after another.

For each release in KUBE_VERSIONS: build its binaries if they are missing (``tools/kube/build.sh`` with
KUBE_VERSION), start etcd + kube-apiserver + a kube-scheduler from them, run every shard of
``conformance/test_apiserver.py`` over HTTP against it (``--target http --allow-writes``, the ``matrix``
Hypothesis profile: MATRIX_EXAMPLES examples per shard, a fresh random seed per shard, written down), stop it.
What failed is written as a release-by-invariant table to ``reports/matrix.md`` and ``reports/matrix.json``:
invariant id, how many shards broke it, the first line of the first message, and the shrunk reproduction,
which each shard writes under ``reports/repro/<release>/shard<k>/``.

A release gets MATRIX_TIMEOUT seconds for its run (and MATRIX_BUILD_TIMEOUT for a build): one that runs out is
stopped and marked so, and the next release starts. Opt-in only: it builds releases and takes tens of minutes.

    python -m conformance.matrix [--versions v1.34.4 v1.37.2] [--examples 20] [--timeout 900] [--jobs 2]
    python -m conformance.matrix --versions v1.34.0 --shards 0 --seed 0:2198698196 --examples 150   # one row again

This module is also the small pytest plugin each shard runs with (``-p conformance.matrix``): it writes every
invariant a failed test broke (id, message, reproduction path) as JSON lines to KUBEPROP_MATRIX_OUT.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BUILD_SH = ROOT / "tools" / "kube" / "build.sh"
SUITE = "conformance/test_apiserver.py"
SHARDS = 4  # conformance/test_apiserver.py: test_apiserver[0..3]
DEFAULT_VERSIONS = ("v1.34.0", "v1.34.4", "v1.36.1", "v1.36.3", "v1.37.2")
OUT_ENV = "KUBEPROP_MATRIX_OUT"
_REPRO = re.compile(r"Reproduction \((\S+)\):")


# --------------------------------------------------------------------------- the plugin each shard runs with


def pytest_runtest_makereport(item: Any, call: Any) -> None:
    out = os.environ.get(OUT_ENV)
    if not out or call.when != "call" or call.excinfo is None:
        return
    from conformance.invariants import violations_in

    exc = call.excinfo.value
    rows = []
    for err in violations_in(exc):
        text = str(err.args[0]) if err.args else str(err)
        found = _REPRO.search(text)
        rows.append({"test": item.nodeid, "invariant": err.invariant, "message": err.detail,
                     "reproduction": found.group(1) if found else None})
    if not rows:  # not an invariant: a crash, a transport failure, a Hypothesis error
        rows.append({"test": item.nodeid, "invariant": f"error:{type(exc).__name__}", "message": str(exc),
                     "reproduction": None})
    with open(out, "a", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def pytest_sessionfinish(session: Any) -> None:
    out = os.environ.get(OUT_ENV)
    if not out:
        return
    from conformance import findings
    from conformance.machines import APIServerMachine

    # the known findings the shard met and went on past (KUBEPROP_REPORT_KNOWN=1): one row each, labelled
    met: dict[str, list[str]] = {}
    for finding_id, _, path in findings.KNOWN_MET:
        met.setdefault(finding_id, []).append(path)
    by_id = {f.id: f for f in findings.FINDINGS}
    with open(out, "a", encoding="utf-8") as f:
        for finding_id, paths in met.items():
            known = by_id[finding_id]
            f.write(json.dumps({"test": os.environ.get("KUBEPROP_REPRO_DIR", "shard"), "known": True,
                                "invariant": f"{known.invariant} ({known.category()})",
                                "message": f"{known.title} ({len(paths)} times)",
                                "reproduction": os.path.relpath(paths[0], ROOT)}) + "\n")
        f.write(json.dumps({"steps": APIServerMachine.steps}) + "\n")


# --------------------------------------------------------------------------- results


@dataclass
class Broken:
    """One invariant a release broke: in how many shards, the first line of the first message, reproductions."""

    invariant: str
    count: int = 0
    first_line: str = ""
    reproductions: list[str] = field(default_factory=list)
    known: bool = False  # a registered upstream finding (conformance/findings.py), met and gone on past


@dataclass
class ReleaseResult:
    version: str
    status: str = "not run"  # passed | passed, known findings only | failed | timeout | build failed | cluster failed
    etcd: str = ""
    build_seconds: float = 0.0
    run_seconds: float = 0.0
    steps: int = 0  # state-machine steps run against it, every shard together
    seeds: dict[str, int] = field(default_factory=dict)  # shard -> --hypothesis-seed
    shards: dict[str, str] = field(default_factory=dict)  # shard -> passed | failed | timeout | rc N
    broken: dict[str, Broken] = field(default_factory=dict)
    note: str = ""


def first_line(message: str, width: int = 160) -> str:
    line = next((ln.strip() for ln in message.splitlines() if ln.strip()), "")
    return line if len(line) <= width else line[: width - 1] + "…"


def collect(result: ReleaseResult, rows: list[dict[str, Any]]) -> None:
    """Fold one shard's JSON lines into the release's table: one count per shard that broke an invariant."""
    seen = set()
    for row in rows:
        if "steps" in row:
            result.steps += row["steps"]
            continue
        broken = result.broken.setdefault(row["invariant"], Broken(row["invariant"], known=bool(row.get("known"))))
        if (row["invariant"], row["test"]) not in seen:
            seen.add((row["invariant"], row["test"]))
            broken.count += 1
        if not broken.first_line:
            broken.first_line = first_line(row.get("message") or "")
        if row.get("reproduction") and row["reproduction"] not in broken.reproductions:
            broken.reproductions.append(row["reproduction"])


def cut_off_rows(repro_dir: Path, test: str) -> list[dict[str, Any]]:
    """Rows for a shard stopped by the timeout, which never reported: each reproduction it had written, the
    latest (partly shrunk) failing example of that invariant, with the first line its docstring carries."""
    rows = []
    for path in sorted(repro_dir.glob("repro_*.py")):
        lines = path.read_text(errors="replace").splitlines()
        found = re.match(r'"""kubeprop reproduction: breaks (\S+?)\.?$', lines[0]) if lines else None
        if found:
            message = next((ln.strip() for ln in lines[1:] if ln.strip() and ln.strip() != '"""'), "")
            rows.append({"test": test, "invariant": found.group(1), "reproduction": str(path),
                         "message": f"(cut off while shrinking) {message}"})
    return rows


def render_markdown(results: list[ReleaseResult], examples: int, shards: int = SHARDS) -> str:
    lines = ["# Release matrix: the API-server conformance suite against each release", "",
             f"`make matrix`: {shards} shards x {examples} examples x 25 steps per release over HTTP "
             "(`--target http --allow-writes`, profile `matrix`), a random seed per shard.", "",
             "| release | etcd | status | build | run | steps | seeds (shard: seed) |",
             "|---|---|---|---|---|---|---|"]
    for r in results:
        seeds = ", ".join(f"{k}: {v}" for k, v in r.seeds.items())
        build = f"{r.build_seconds:.0f} s" if r.build_seconds else "there"
        lines.append(f"| {r.version} | {r.etcd or '?'} | {r.status}{' (' + r.note + ')' if r.note else ''} "
                     f"| {build} | {r.run_seconds:.0f} s | {r.steps} | {seeds} |")
    lines += ["", "## What failed", "", "| release | invariant | shards | first message line | reproduction |",
              "|---|---|---|---|---|"]
    any_broken = False
    for r in results:
        for b in sorted(r.broken.values(), key=lambda b: b.invariant):
            any_broken = True
            msg = b.first_line.replace("|", "\\|")
            repro = ", ".join(f"`{p}`" for p in b.reproductions) or "—"
            lines.append(f"| {r.version} | `{b.invariant}` | {b.count} | {msg} | {repro} |")
    if not any_broken:
        lines.append("| — | nothing failed | | | |")
    return "\n".join(lines) + "\n"


def write_reports(results: list[ReleaseResult], examples: int, out_dir: Path,
                  shards: int = SHARDS) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md, js = out_dir / "matrix.md", out_dir / "matrix.json"
    md.write_text(render_markdown(results, examples, shards))
    js.write_text(json.dumps({"examples_per_shard": examples, "shards": shards,
                              "releases": [asdict(r) for r in results]}, indent=2) + "\n")
    return md, js


# --------------------------------------------------------------------------- running


def say(text: str) -> None:
    print(f"matrix [{time.strftime('%H:%M:%S')}] {text}", flush=True)


def stop_group(proc: subprocess.Popen) -> None:
    """End a process started in its own session, and its children: SIGTERM, then SIGKILL after 10 s."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def build(version: str, kc: Any, result: ReleaseResult, timeout: float) -> bool:
    folder = kc.kube_bin_dir(version)
    if all((folder / name).is_file() for name in ("kube-apiserver", "kube-scheduler", "etcd")):
        return True
    say(f"{version}: building (tools/kube/build.sh, log in reports/matrix-build-{version}.log)")
    log = ROOT / "reports" / f"matrix-build-{version}.log"
    log.parent.mkdir(exist_ok=True)
    env = {**os.environ, "KUBE_VERSION": version}
    env.pop("KUBE_BIN_DIR", None)
    start = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(["nice", "-n", "10", str(BUILD_SH)], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_group(proc)
            rc = None
    result.build_seconds = time.monotonic() - start
    if rc != 0:
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
        # build.sh's own reason (a release the proxy does not serve, a Go too old) when it gave one
        said = [i for i, ln in enumerate(lines) if "does not serve" in ln or "needs Go" in ln]
        reason = " ".join(lines[said[0]:said[0] + 2]) if said else (lines or [f"rc {rc}"])[-1]
        result.status = "build failed"
        result.note = "timed out" if rc is None else first_line(reason.replace("kube-binaries: ", ""), 240)
        say(f"{version}: build failed after {result.build_seconds:.0f} s: {result.note}")
        return False
    say(f"{version}: built in {result.build_seconds:.0f} s")
    return True


def run_shards(version: str, kubeconfig: Path, result: ReleaseResult, *, examples: int, jobs: int,
               deadline: float, shards: list[int], seeds: dict[int, int] | None = None) -> None:
    scratch = ROOT / "reports" / "matrix-work" / version
    scratch.mkdir(parents=True, exist_ok=True)
    pending = list(shards)
    running: dict[int, tuple[subprocess.Popen, Path, float]] = {}
    rng = random.SystemRandom()
    seeds = seeds or {}
    repro_dirs: dict[int, str] = {}
    while pending or running:
        while pending and len(running) < jobs:
            shard = pending.pop(0)
            seed = seeds[shard] if shard in seeds else rng.randrange(2**32)
            result.seeds[str(shard)] = seed
            out = scratch / f"shard{shard}.jsonl"
            out.unlink(missing_ok=True)
            repro_dirs[shard] = f"reports/repro/{version}/shard{shard}"
            shutil.rmtree(ROOT / repro_dirs[shard], ignore_errors=True)  # nothing left from an earlier run
            # a known upstream finding is recorded and the shard goes on, so one known bug does not hide the rest
            env = {**os.environ, OUT_ENV: str(out), "MATRIX_EXAMPLES": str(examples),
                   "KUBEPROP_REPRO_DIR": repro_dirs[shard], "KUBEPROP_REPORT_KNOWN": "1"}
            cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                   "-p", "conformance.matrix", f"{SUITE}::test_apiserver[{shard}]", "--target", "http",
                   "--kubeconfig", str(kubeconfig), "--allow-writes", "--hypothesis-profile=matrix",
                   f"--hypothesis-seed={seed}"]
            log = open(scratch / f"shard{shard}.log", "w")  # noqa: SIM115 - closed when the process ends
            proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            log.close()
            running[shard] = (proc, out, time.monotonic())
            say(f"{version}: shard {shard} started (seed {seed}, {examples} examples)")
        time.sleep(1)
        for shard, (proc, out, started) in list(running.items()):
            rc = proc.poll()
            if rc is None and time.monotonic() < deadline:
                continue
            if rc is None:
                stop_group(proc)
                result.shards[str(shard)] = "timeout"
            else:
                result.shards[str(shard)] = {0: "passed", 1: "failed"}.get(rc, f"rc {rc}")
            del running[shard]
            rows = [json.loads(ln) for ln in out.read_text().splitlines()] if out.exists() else []
            if rc is None:
                for row in cut_off_rows(ROOT / repro_dirs[shard], f"{SUITE}::test_apiserver[{shard}]"):
                    rows.append({**row, "reproduction": os.path.relpath(row["reproduction"], ROOT)})
            collect(result, rows)
            names = sorted({r["invariant"] for r in rows if "invariant" in r})
            say(f"{version}: shard {shard} {result.shards[str(shard)]} in {time.monotonic() - started:.0f} s"
                + (f": {', '.join(names)}" if names else ""))
        if time.monotonic() >= deadline and pending:
            for shard in pending:
                result.shards[str(shard)] = "timeout (not started)"
            pending = []


def release_status(result: ReleaseResult) -> str:
    """A release whose shards all passed and which broke nothing but registered upstream findings passed: the
    table below still lists those findings, labelled."""
    if set(result.shards.values()) - {"passed"} or any(not b.known for b in result.broken.values()):
        return "failed"
    return "passed, known findings only" if result.broken else "passed"


def run_release(version: str, *, examples: int, jobs: int, timeout: float, build_timeout: float,
                schedulers: int, shards: list[int], seeds: dict[int, int] | None = None) -> ReleaseResult:
    from conformance.kubecluster import cluster_module

    kc = cluster_module()
    result = ReleaseResult(version)
    if not build(version, kc, result, build_timeout):
        return result
    start = time.monotonic()
    try:
        binaries = kc.find_binaries(kc.kube_bin_dir(version))
        result.etcd = binaries.etcd_version()
        with kc.Cluster(schedulers, binaries=binaries) as cluster:
            reported = cluster.version().get("gitVersion")
            say(f"{version}: cluster up (kube-apiserver {reported}, etcd {result.etcd}); running {len(shards)} "
                f"shards, {jobs} at a time, {timeout:.0f} s at most")
            if reported != version:
                result.note = f"kube-apiserver reports {reported}"
            run_shards(version, cluster.kubeconfig, result, examples=examples, jobs=jobs,
                       deadline=start + timeout, shards=shards, seeds=seeds)
    except kc.ClusterError as e:
        result.status = "cluster failed"
        result.note = first_line(str(e), 200)
        say(f"{version}: {result.status}: {result.note}")
        return result
    finally:
        result.run_seconds = time.monotonic() - start
    states = set(result.shards.values())
    if any(s.startswith("timeout") for s in states):
        result.status = "timeout"
    else:
        result.status = release_status(result)
    say(f"{version}: {result.status} in {result.run_seconds:.0f} s, {result.steps} steps; broke: "
        f"{', '.join(f'{b.invariant} x{b.count}' for b in result.broken.values()) or 'nothing'}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.matrix", description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", nargs="+",
                        default=(os.environ.get("KUBE_VERSIONS") or " ".join(DEFAULT_VERSIONS)).split(),
                        help="releases (default: KUBE_VERSIONS, else %(default)s)")
    parser.add_argument("--examples", type=int, default=int(os.environ.get("MATRIX_EXAMPLES") or 40),
                        help="examples per shard (MATRIX_EXAMPLES; default 40)")
    parser.add_argument("--timeout", type=float, default=float(os.environ.get("MATRIX_TIMEOUT") or 900),
                        help="seconds each release's run may take (MATRIX_TIMEOUT; default 900)")
    parser.add_argument("--build-timeout", type=float,
                        default=float(os.environ.get("MATRIX_BUILD_TIMEOUT") or 3600),
                        help="seconds a build may take (MATRIX_BUILD_TIMEOUT; default 3600)")
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("MATRIX_JOBS") or 2),
                        help="shards run at once (MATRIX_JOBS; default 2)")
    parser.add_argument("--schedulers", type=int, default=1, help="kube-scheduler replicas (default 1)")
    parser.add_argument("--shards", type=int, nargs="+", default=list(range(SHARDS)))
    parser.add_argument("--seed", action="append", default=[], metavar="SHARD:SEED",
                        help="run that shard with that seed (from a table) instead of a random one; repeatable")
    parser.add_argument("--out", type=Path, default=ROOT / "reports")
    args = parser.parse_args(argv)
    bad = [v for v in args.versions if not re.fullmatch(r"v1\.\d+\.\d+", v)]
    if bad:
        parser.error(f"not Kubernetes releases: {', '.join(bad)} (expected v1.X.Y)")
    try:
        seeds = {int(k): int(v) for k, v in (item.split(":", 1) for item in args.seed)}
    except ValueError:
        parser.error("--seed takes SHARD:SEED, e.g. --seed 0:2198698196")
    say(f"releases {' '.join(args.versions)}; {len(args.shards)} shards x {args.examples} examples each")
    results: list[ReleaseResult] = []
    for version in args.versions:
        results.append(run_release(version, examples=args.examples, jobs=args.jobs, timeout=args.timeout,
                                   build_timeout=args.build_timeout, schedulers=args.schedulers,
                                   shards=args.shards, seeds=seeds))
        # after every release, so a run stopped part-way keeps what it has
        md, js = write_reports(results, args.examples, args.out, len(args.shards))
    say(f"wrote {md} and {js}")
    print(md.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
