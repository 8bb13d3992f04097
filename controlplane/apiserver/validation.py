"""Name and field checks shared by the resources (apimachinery/pkg/util/validation/validation.go)."""

from __future__ import annotations

import re

_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_FMT = _LABEL_FMT + r"(\." + _LABEL_FMT + ")*"
_LABEL_RE = re.compile(_LABEL_FMT)
_SUBDOMAIN_RE = re.compile(_SUBDOMAIN_FMT)

# validation.go: RegexError builds "(e.g. 'a',  or 'b', regex ...)" -- the doubled space is upstream's
_LABEL_REGEX_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    f"regex used for validation is '{_LABEL_FMT}')"
)
_SUBDOMAIN_REGEX_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', "
    f"regex used for validation is '{_SUBDOMAIN_FMT}')"
)


def dns1123_label(value: str) -> list[str]:
    """validation.go: IsDNS1123Label -- the messages for every rule the value breaks."""
    errs: list[str] = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _LABEL_RE.fullmatch(value):
        # a valid subdomain that is not a label can only be failing on its dots
        errs.append("must not contain dots" if _SUBDOMAIN_RE.fullmatch(value) else _LABEL_REGEX_MSG)
    return errs


def dns1123_subdomain(value: str) -> list[str]:
    """validation.go: IsDNS1123Subdomain."""
    errs: list[str] = []
    if len(value) > 253:
        errs.append("must be no more than 253 characters")
    if not _SUBDOMAIN_RE.fullmatch(value):
        errs.append(_SUBDOMAIN_REGEX_MSG)
    return errs


# Label keys and values, used by the selector parser (validation.go: IsQualifiedName, IsValidLabelValue)
_QUALIFIED_NAME_RE = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE_RE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


def is_qualified_name(value: str) -> bool:
    prefix, sep, name = value.rpartition("/")
    if sep:
        if not prefix or dns1123_subdomain(prefix):
            return False
    return 0 < len(name) <= 63 and _QUALIFIED_NAME_RE.fullmatch(name) is not None


def is_label_value(value: str) -> bool:
    return len(value) <= 63 and _LABEL_VALUE_RE.fullmatch(value) is not None


# apimachinery/pkg/api/validate/content/kube.go: IsLabelKey (IsQualifiedName), IsLabelValue
_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_KEY_RE = re.compile(_KEY_FMT)
_VALUE_FMT = f"({_KEY_FMT})?"
_KEY_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
            "character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
            f"regex used for validation is '{_KEY_FMT}')")
_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
              "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
              f"regex used for validation is '{_VALUE_FMT}')")


def _byte_len(value: str) -> int:
    # Go's len() counts UTF-8 bytes
    return len(value.encode("utf-8", "replace"))


def label_key(value: str) -> list[str]:
    """content/kube.go: IsLabelKey -- an optional DNS subdomain prefix and '/', then a name part."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) > 2:
        return [f"a valid label key {_KEY_MSG} with an optional DNS subdomain prefix and '/' "
                "(e.g. 'example.com/MyName')"]
    name = parts[-1]
    if len(parts) == 2:
        if not parts[0]:
            errs.append("prefix part must be non-empty")
        elif _byte_len(parts[0]) > 253:
            errs.append("prefix part must be no more than 253 bytes")  # bytes, measured on v1.37.2
        else:
            errs.extend("prefix part " + m for m in dns1123_subdomain(parts[0]))
    if not name:
        errs.append("name part must be non-empty")
    elif _byte_len(name) > 63:
        errs.append("name part must be no more than 63 bytes")
    if not _KEY_RE.fullmatch(name):
        errs.append("name part " + _KEY_MSG)
    return errs


def label_value(value: str) -> list[str]:
    """content/kube.go: IsLabelValue."""
    errs: list[str] = []
    if _byte_len(value) > 63:
        errs.append("must be no more than 63 bytes")
    if value and not _KEY_RE.fullmatch(value):
        errs.append(_VALUE_MSG)
    return errs
