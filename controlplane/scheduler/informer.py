"""A list-then-watch informer driven by its caller: no threads, nothing happens until :meth:`poll`.

Like client-go's reflector (tools/cache/reflector.go: ListAndWatch): list,
remember the list's resourceVersion, watch from it, and on an ended stream
(an ERROR such as 410 Expired, or a closed watch) list again and turn the
difference with the local store into events (DeltaFIFO Replace).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

JSON = dict[str, Any]
Key = tuple[str, str]


class Watch(Protocol):
    def drain(self) -> list[JSON]: ...

    @property
    def ended(self) -> bool: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Event:
    """One change to the local store: ADDED (old None), MODIFIED, or DELETED (new None)."""

    type: str
    old: JSON | None
    new: JSON | None


def _key(obj: JSON) -> Key:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def _rv(obj: JSON) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


class Informer:
    """The local store of one resource (all namespaces), kept current from a list and a watch."""

    def __init__(self, client: Any, resource: str) -> None:
        self.client = client
        self.resource = resource
        self.store: dict[Key, JSON] = {}
        self._watch: Watch | None = None
        self.relists = 0

    def start(self) -> list[Event]:
        """List and open the watch; an ADDED event per listed object."""
        return self._relist()

    def poll(self) -> list[Event]:
        """Everything the watch delivered since the last poll; a re-list if the stream ended."""
        if self._watch is None:
            return self._relist()
        events: list[Event] = []
        for e in self._watch.drain():
            ev = self._apply(e)
            if ev is not None:
                events.append(ev)
        if self._watch.ended:
            events.extend(self._relist())
        return events

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()
            self._watch = None

    def _apply(self, e: JSON) -> Event | None:
        kind, obj = e.get("type"), e.get("object")
        if kind not in ("ADDED", "MODIFIED", "DELETED") or not isinstance(obj, dict):
            return None  # ERROR (the stream then ends) or BOOKMARK
        key = _key(obj)
        old = self.store.get(key)
        if kind == "DELETED":
            if old is None:
                return None
            del self.store[key]
            return Event("DELETED", old, None)
        self.store[key] = obj
        return Event("ADDED" if old is None else "MODIFIED", old, obj)

    def _relist(self) -> list[Event]:
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        r = self.client.list(self.resource, None)
        if r.code != 200:
            return []  # tried again at the next poll
        self.relists += 1
        body = r.body
        items = [i for i in body.get("items") or [] if isinstance(i, dict)]
        rv = str((body.get("metadata") or {}).get("resourceVersion") or "")
        fresh = {_key(i): i for i in items}
        events: list[Event] = []
        for key, old in list(self.store.items()):
            if key not in fresh:
                del self.store[key]
                events.append(Event("DELETED", old, None))
        for key, obj in fresh.items():
            old = self.store.get(key)
            if old is None:
                events.append(Event("ADDED", None, obj))
            elif _rv(old) != _rv(obj):
                events.append(Event("MODIFIED", old, obj))
            self.store[key] = obj
        self._watch = self.client.watch(self.resource, None, resource_version=rv or None)
        return events
