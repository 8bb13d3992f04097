"""Fixtures for the etcd tests: one real etcd per test session, and stores on it that do not see each other."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

import pytest

from controlplane.apiserver.etcd import EtcdStorage
from controlplane.apiserver.storage import MemoryStorage, Storage, StorageEvent
from controlplane.etcdproc import EtcdProcess

_prefixes = itertools.count()


@pytest.fixture(scope="session")
def etcd() -> Iterator[EtcdProcess]:
    # the data dir is thrown away at the end: fsync buys nothing here
    with EtcdProcess(unsafe_no_fsync=True) as proc:
        yield proc


@pytest.fixture
def etcd_storage(etcd: EtcdProcess) -> Iterator[EtcdStorage]:
    # one key prefix per test: the tests share one etcd (and its revision counter) without sharing keys
    with EtcdStorage(etcd.endpoint, key_prefix=f"/t{next(_prefixes)}") as s:
        yield s


@pytest.fixture(params=["memory", "etcd"])
def store(request: pytest.FixtureRequest) -> Storage:
    if request.param == "memory":
        return MemoryStorage()
    return request.getfixturevalue("etcd_storage")


class Collector:
    """A watch sink that records events and lets a test wait for a number of them."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.events: list[StorageEvent] = []

    def __call__(self, event: StorageEvent) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait_for(self, n: int, timeout: float = 10.0) -> list[StorageEvent]:
        """The first n events; fails if they do not all arrive in time."""
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.events) >= n, timeout), self.events
            return list(self.events[:n])

    def settle(self, quiet: float = 0.3) -> list[StorageEvent]:
        """Every event once none has come for `quiet` seconds."""
        with self._cond:
            seen = -1
            while seen != len(self.events):
                seen = len(self.events)
                self._cond.wait(quiet)
            return list(self.events)
