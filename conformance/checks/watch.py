"""Watch guarantees across writers: what a watch delivers while many clients write, judged from what they were told.

The sequential machine holds every event to the model's change log (``conformance/watching.py``). Under
concurrency there is no single predicted log; these checks judge a watch by what the writers themselves were
answered, and by lists read before and after. The guarantees are the ones etcd's robustness tests name for its
watch API (etcd-io/etcd: tests/robustness/validate/watch.go), asked of the Kubernetes watch a client sees:

- ``watch.unique``: no change is delivered twice;
- ``watch.ordered``: changes come in commit order;
- ``watch.reliable``: every acknowledged write is delivered, as it was answered, and nothing nobody wrote;
- ``watch.resumable``: a watch started from the resourceVersion of a delivered event yields exactly the
  changes the first watch delivered after it;
- ``watch.list-then-watch``: a list at resourceVersion r plus a watch from r give the store's later state.

Atomicity (every change of one revision delivered together) holds trivially here: a Kubernetes write is one
object at one revision. Bookmarks are not requested by these watches.

Events and writes are plain data: an event is ``{"type", "object"}``; a write is :class:`Written`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conformance.checks import check

JSON = dict[str, Any]
#: the watch event type a successful write of each verb produces
EVENT_OF = {"create": "ADDED", "update": "MODIFIED", "delete": "DELETED"}


@dataclass(frozen=True)
class Written:
    """An acknowledged write: the client was answered 2xx. ``rv`` and ``value`` are what the answer carried
    (None where the answer does not pin them: a delete's revision is the event's own)."""

    key: str
    verb: str  # create, update, delete
    value: str | None
    rv: str | None
    client: int = -1


def _meta(event: JSON) -> JSON:
    obj = event.get("object")
    return (obj.get("metadata") or {}) if isinstance(obj, dict) else {}


def _rv(event: JSON) -> str | None:
    return _meta(event).get("resourceVersion")


def _value(event: JSON) -> str:
    return (_meta(event).get("labels") or {}).get("v", "")


def _label(event: JSON) -> str:
    return f"{event.get('type')} {_meta(event).get('name')}@{_rv(event)}"


def labels(events: Sequence[JSON]) -> list[str]:
    return [_label(e) for e in events]


@check("watch.unique")
def unique(events: Sequence[JSON]) -> list[str]:
    """No resourceVersion is delivered twice on one watch."""
    seen: set[str] = set()
    for e in events:
        rv = _rv(e)
        if rv is not None and rv in seen:
            return [f"resourceVersion {rv} delivered twice: {labels(events)}"]
        if rv is not None:
            seen.add(rv)
    return []


def _revision(rv: str | None) -> int | None:
    try:
        return int(rv) if rv is not None else None
    except ValueError:
        return None


@check("watch.ordered")
def ordered(events: Sequence[JSON]) -> list[str]:
    """Events come in commit order.

    Commit order is read from the resourceVersions: clients may not compare them, but every server kubeprop
    targets hands out its storage revision (etcd's, or the bundled store's), and the watch cache itself orders
    by it (apiserver/pkg/storage/api_object_versioner.go parses a resourceVersion as a uint64 revision). A
    stream with a resourceVersion that is not a number is not judged here.
    """
    revs = [_revision(_rv(e)) for e in events]
    if any(r is None for r in revs):
        return []
    for i in range(1, len(revs)):
        if revs[i] <= revs[i - 1]:  # type: ignore[operator]
            return [f"event {i} ({_label(events[i])}) comes after {_label(events[i - 1])}: not commit order; "
                    f"delivered {labels(events)}"]
    return []


def _matches(w: Written, event: JSON) -> bool:
    if event.get("type") != EVENT_OF[w.verb] or _meta(event).get("name") != w.key:
        return False
    if w.rv is not None and _rv(event) != w.rv:
        return False
    return w.value is None or _value(event) == w.value


@check("watch.reliable")
def delivers_writes(events: Sequence[JSON], writes: Sequence[Written], open_outcomes: frozenset[str] = frozenset()
                    ) -> list[str]:
    """Every acknowledged write is delivered once, as it was answered; no event is a change nobody made.

    ``writes`` are the acknowledged writes made after the watch's start; ``open_outcomes`` are keys with a
    write whose outcome the client never learned (its event may or may not come).
    """
    used: set[int] = set()
    problems = []
    for w in writes:
        hit = next((i for i, e in enumerate(events) if i not in used and _matches(w, e)), None)
        if hit is None:
            what = f"{EVENT_OF[w.verb]} {w.key}" + (f"@{w.rv}" if w.rv else "") + (f" v={w.value}" if w.value else "")
            problems.append(f"client {w.client}'s acknowledged {w.verb} ({what}) was never delivered")
        else:
            used.add(hit)
    for i, e in enumerate(events):
        if i not in used and _meta(e).get("name") not in open_outcomes:
            problems.append(f"event {i} ({_label(e)}, v={_value(e)!r}) is no acknowledged write of any client")
            break
    if problems:
        problems.append(f"delivered {labels(events)}")
    return problems


@check("watch.resumable")
def starts_after(events: Sequence[JSON], start_rv: str) -> list[str]:
    """A watch from ``start_rv`` delivers no change at or before it (the start is exclusive: apiserver/pkg/storage/
    etcd3/watcher.go starts at the revision after it)."""
    start = _revision(start_rv)
    for i, e in enumerate(events):
        rv = _rv(e)
        if rv == start_rv or (start is not None and (_revision(rv) or start + 1) <= start):
            return [f"a watch from resourceVersion {start_rv} delivered event {i} ({_label(e)}), which is not after "
                    f"it; delivered {labels(events)}"]
    return []


@check("watch.resumable")
def resumes(first: Sequence[JSON], start: int, resumed: Sequence[JSON]) -> list[str]:
    """A watch from the resourceVersion of ``first[start]`` delivers what ``first`` delivered after it."""
    want = [(e.get("type"), _rv(e)) for e in first[start + 1:]]
    got = [(e.get("type"), _rv(e)) for e in resumed]
    if got == want:
        return []
    return [f"a watch from resourceVersion {_rv(first[start])} delivered {labels(resumed)}, but the watch that "
            f"delivered that revision went on with {labels(first[start + 1:])}"]


@check("watch.resumable")
def resumes_or_expires(segments: Sequence[Any]) -> list[str]:
    """A watch that ended or failed (a server killed, etcd lost, compaction), reopened from the last
    resourceVersion it delivered, either goes on (what its streams delivered together is then held to the other
    watch checks) or answers 410 Gone / Expired (apiserver/pkg/storage/cacher/watch_cache.go: "too old resource
    version"; etcd3/watcher.go for a compacted revision); a client lists again only after a 410. Anything else,
    once the servers answer again (``segments[-1]``, each with ``end``, ``from_rv``, ``detail``: see
    ``conformance.disruption.Segment``), is a watch that cannot be resumed."""
    if not segments or segments[-1].end in ("open", "expired"):
        return []
    last = segments[-1]
    ends = [f"{s.end} from {s.from_rv}" for s in segments]
    return [f"reopened from resourceVersion {last.from_rv}, the watch neither went on nor answered 410: "
            f"{last.end} ({last.detail}); its streams: {ends}"]


def is_expired(events: Sequence[JSON]) -> bool:
    """Whether a watch's answer was only ERROR 410 (Gone / Expired): its start is older than the server holds."""
    return (len(events) == 1 and events[0].get("type") == "ERROR"
            and (events[0].get("object") or {}).get("code") == 410)


def replay(items: Mapping[str, tuple[str, str]], events: Sequence[JSON]) -> dict[str, tuple[str, str]]:
    """Apply ``events`` to a list's items (name -> (resourceVersion, value)); the state they lead to."""
    state = dict(items)
    for e in events:
        name = _meta(e).get("name")
        if e.get("type") == "DELETED":
            state.pop(name, None)
        elif e.get("type") in ("ADDED", "MODIFIED"):
            state[name] = (_rv(e) or "", _value(e))
    return state


@check("watch.list-then-watch")
def list_then_watch(before: Mapping[str, tuple[str, str]], events: Sequence[JSON],
                    after: Mapping[str, tuple[str, str]]) -> list[str]:
    """The list read before (at r), with the watch from r applied, is the list read after the writes settled."""
    got = replay(before, events)
    if got == dict(after):
        return []
    diff = sorted(k for k in set(got) | set(after) if got.get(k) != after.get(k))
    return [f"the list at the watch's start plus its events gives {[(k, got.get(k)) for k in diff]}, but a list "
            f"read after the writes holds {[(k, after.get(k)) for k in diff]}; delivered {labels(events)}"]


@check("watch.bookmarkable")
def bookmarkable(events: Sequence[JSON], marks: Sequence[tuple[int, str]], writes: Sequence[Written],
                 start_rv: str) -> list[str]:
    """A bookmark at r promises every change up to r was sent before it (apiserver/pkg/storage/cacher/
    cache_watcher.go: a bookmark goes through the watcher's one ordered channel, with the revision the watcher has
    been sent up to). ``marks`` are (how many of ``events`` came before it, its resourceVersion); ``writes`` the
    acknowledged writes, judged when their answer carried a revision after the watch's start."""
    problems = []
    floor = _revision(start_rv) or 0
    for at, rv in marks:
        mark = _revision(rv)
        if mark is None:
            problems.append(f"a bookmark carries resourceVersion {rv!r}, not a revision")
            continue
        late = [e for e in events[at:] if (_revision(_rv(e)) or 0) <= mark]
        if late:
            problems.append(f"a bookmark at {rv} came before {labels(late)}, changes it promised were sent")
        sent = {(_meta(e).get("name"), _rv(e)) for e in events[:at]}
        missing = [f"{w.verb} {w.key}@{w.rv}" for w in writes
                   if w.rv is not None and floor < (_revision(w.rv) or 0) <= mark and (w.key, w.rv) not in sent]
        if missing:
            problems.append(f"a bookmark at {rv} promised every change up to it, but {missing} had not been "
                            f"delivered before it")
    return problems
