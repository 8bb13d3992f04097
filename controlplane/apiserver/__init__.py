"""The bundled API server: namespaces, pods (and pods/binding), nodes and leases over a revisioned store.

An independent writing of docs/semantics.md. Layout:
``resources`` (resource records), ``errors`` (Status bodies), ``validation``,
``selectors``, ``storage`` (the store interface and MemoryStorage), ``meta``,
``strategies`` (per-resource rules), ``registry`` (the generic store),
``binding``, ``watch`` and ``server`` (the :class:`APIServer` facade).
"""

from __future__ import annotations

from .server import APIServer, Reply
from .storage import Compacted, MemoryStorage, Storage, StorageEvent
from .watch import Watcher

__all__ = ["APIServer", "Compacted", "MemoryStorage", "Reply", "Storage", "StorageEvent", "Watcher"]
