"""DNS-1123 name rules and their messages (apimachinery/pkg/util/validation/validation.go)."""

from __future__ import annotations

import datetime as dt
import re

_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = _LABEL + "(\\." + _LABEL + ")*"
_LABEL_RE = re.compile("^" + _LABEL + "$")
_SUBDOMAIN_RE = re.compile("^" + _SUBDOMAIN + "$")

LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
    "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
    f"validation is '{_LABEL}')"
)
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
    "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation "
    f"is '{_SUBDOMAIN}')"
)


def label_errors(value: str) -> list[str]:
    # validation.go: IsDNS1123Label
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _LABEL_RE.match(value):
        errs.append("must not contain dots" if _SUBDOMAIN_RE.match(value) else LABEL_MSG)
    return errs


def subdomain_errors(value: str) -> list[str]:
    # validation.go: IsDNS1123Subdomain
    errs = []
    if len(value) > 253:
        errs.append("must be no more than 253 characters")
    if not _SUBDOMAIN_RE.match(value):
        errs.append(SUBDOMAIN_MSG)
    return errs


def go_quote(s: str) -> str:
    """Go's %q for the printable ASCII names kubeprop generates."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ----- values as a field error shows them before 1.34 (model/releases.py: FIELD_VALUES_AS_JSON) ---------------

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def go_strings(values: list[str]) -> str:
    """Go's %#v of a []string: ``[]string{"a", "b"}``."""
    return "[]string{" + ", ".join(go_quote(v) for v in values) + "}"


def _utc(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(dt.UTC)


def _nanos(when: dt.datetime) -> int:
    return when.microsecond * 1000


def go_time(stamp: str) -> str:
    """time.Time's String() of an RFC 3339 stamp as metav1.Time decodes it (in the server's local zone, taken to
    be UTC as measured): ``2001-02-03 04:05:06 +0000 UTC``, fractions of a second only when there are any."""
    when = _utc(stamp)
    frac = f".{_nanos(when):09d}".rstrip("0") if when.microsecond else ""
    return when.strftime("%Y-%m-%d %H:%M:%S") + frac + " +0000 UTC"


def go_time_syntax(stamp: str) -> str:
    """time.Time's GoString() of an RFC 3339 stamp as metav1.Time decodes it (Local, taken to be UTC):
    ``time.Date(2001, time.February, 3, 4, 5, 6, 0, time.Local)``."""
    w = _utc(stamp)
    return (f"time.Date({w.year}, time.{_MONTHS[w.month - 1]}, {w.day}, {w.hour}, {w.minute}, {w.second}, "
            f"{_nanos(w)}, time.Local)")


_LABEL_VALUE = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
_LABEL_VALUE_RE = re.compile("^" + _LABEL_VALUE + "$")
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
    f"validation is '{_LABEL_VALUE}')"
)


def label_value_errors(value: str, legacy: bool = False) -> list[str]:
    # content/kube.go: IsLabelValue; ``legacy``: util/validation/validation.go IsValidLabelValue before 1.35, whose
    # length message says "characters" (model/releases.py: LABEL_KEY_TEXTS)
    errs = []
    if len(value.encode()) > 63:
        errs.append(f"must be no more than 63 {'characters' if legacy else 'bytes'}")
    if not _LABEL_VALUE_RE.match(value):
        errs.append(LABEL_VALUE_MSG)
    return errs


_NAME_PART = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_NAME_PART_RE = re.compile("^" + _NAME_PART + "$")
QUALIFIED_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    f"character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '{_NAME_PART}')"
)


def label_key_errors(key: str, legacy: bool = False) -> list[str]:
    """A label key (an annotation key, lowercased): an optional DNS subdomain prefix and '/', then a name part.

    apimachinery/pkg/api/validate/content/kube.go: IsLabelKey; messages measured on kube-apiserver v1.37.2 (a
    prefix longer than 253 bytes says "bytes"). ``legacy``: util/validation/validation.go IsQualifiedName before
    1.35 (model/releases.py: LABEL_KEY_TEXTS), which says "a qualified name" and "characters", and whose prefix
    check (IsDNS1123Subdomain) also gives the pattern's message for a long prefix that breaks it.
    """
    parts = key.split("/")
    if len(parts) > 2:
        return [f"a {'qualified name' if legacy else 'valid label key'} {QUALIFIED_MSG} with an optional DNS "
                "subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    unit = "characters" if legacy else "bytes"
    errs = []
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part must be non-empty")
        elif len(prefix.encode()) > 253:
            errs.append(f"prefix part must be no more than 253 {unit}")
            if legacy and not _SUBDOMAIN_RE.match(prefix):
                errs.append("prefix part " + SUBDOMAIN_MSG)
        elif not _SUBDOMAIN_RE.match(prefix):
            errs.append("prefix part " + SUBDOMAIN_MSG)
    name = parts[-1]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name.encode()) > 63:
        errs.append(f"name part must be no more than 63 {unit}")
    if not _NAME_PART_RE.match(name):
        errs.append("name part " + QUALIFIED_MSG)
    return errs
