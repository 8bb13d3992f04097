"""``tools/kube/cluster.py`` (a standalone launcher of a throwaway etcd + kube-apiserver + kube-scheduler), loaded
once by file path and shared by whoever needs it (the differential and real-cluster tests, the watch benchmark)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

CLUSTER_PY = Path(__file__).resolve().parent.parent / "tools" / "kube" / "cluster.py"
MODULE_NAME = "kubeprop_kube_cluster"


def cluster_module() -> ModuleType:
    if MODULE_NAME in sys.modules:
        return sys.modules[MODULE_NAME]
    spec = importlib.util.spec_from_file_location(MODULE_NAME, CLUSTER_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module
