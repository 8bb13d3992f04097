"""Starting and stopping a private etcd."""

from __future__ import annotations

import os
import stat
import urllib.request
from pathlib import Path

import pytest

from controlplane.etcdproc import EtcdError, EtcdProcess, find_etcd


def test_start_health_and_clean_stop() -> None:
    proc = EtcdProcess(unsafe_no_fsync=True)
    with proc:
        assert os.access(find_etcd(), os.X_OK)
        with urllib.request.urlopen(proc.endpoint + "/health", timeout=5) as r:
            assert b'"true"' in r.read()
        data_dir, pid = proc.dir, proc.pid
        assert data_dir is not None and data_dir.is_dir() and pid is not None
    assert not data_dir.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    proc.stop()  # twice is fine


def test_a_binary_that_fails_gives_its_log(tmp_path: Path) -> None:
    fake = tmp_path / "etcd"
    fake.write_text("#!/bin/sh\necho 'etcd: cannot start: something is wrong' >&2\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    proc = EtcdProcess(binary=str(fake), start_timeout=5)
    with pytest.raises(EtcdError, match="(?s)exited with code 3.*something is wrong"):
        proc.start()
    assert proc.dir is None and proc.proc is None
