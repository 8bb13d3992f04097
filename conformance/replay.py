"""Opening a target by description, for reproduction programs and the command line."""

from __future__ import annotations

from collections.abc import Iterable

from adapters.base import Target


def open_target(kind: str = "builtin", faults: Iterable[str] = (), *, kubeconfig: str | None = None,
                context: str | None = None, test_controls: bool = False) -> Target:
    if kind == "builtin":
        from adapters.inprocess import InProcessTarget

        return InProcessTarget(faults=tuple(faults))
    if kind == "http":
        if tuple(faults):
            raise ValueError("seeded faults exist only in the builtin target; --fault cannot be used with http")
        if not kubeconfig:
            raise ValueError("the http target needs a kubeconfig (--kubeconfig PATH)")
        from adapters.http import HTTPTarget
        from adapters.scoped import ScopedTarget

        # a served or real server is shared: each example gets its own names and label, and cleans up
        # test_controls: the bundled server served with --test-controls (clock and compaction over HTTP)
        return ScopedTarget(HTTPTarget(kubeconfig, context=context, test_controls=test_controls))
    raise ValueError(f"unknown target kind {kind!r}; known: builtin, http")
