"""Label selectors: a small parser and matcher (apimachinery/pkg/labels/selector.go).

Grammar: requirements separated by commas, all of which must hold:
``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``, ``k``, ``!k``,
and upstream's ``k>n`` / ``k<n``. Keys must be qualified names and values label
values; anything else is a :class:`SelectorError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .validation import is_label_value, is_qualified_name

EQUALITY_OPS = frozenset({"=", "==", "!="})


class SelectorError(ValueError):
    """The selector text does not parse."""


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "==", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    @property
    def set_based(self) -> bool:
        return self.op not in EQUALITY_OPS

    def matches(self, labels: Mapping[str, str]) -> bool:
        # selector.go: Requirement.Matches
        present = self.key in labels
        value = labels.get(self.key)
        if self.op in ("=", "==", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        # gt / lt compare integers; a label value that is not one never matches
        try:
            have = int(value) if value is not None else None
        except ValueError:
            return False
        if have is None:
            return False
        want = int(self.values[0])
        return have > want if self.op == "gt" else have < want


@dataclass(frozen=True)
class Selector:
    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def equality_only(self) -> Selector:
        return Selector(tuple(r for r in self.requirements if not r.set_based))

    @property
    def empty(self) -> bool:
        return not self.requirements


EVERYTHING = Selector(())

_SYMBOLS = ("==", "!=", "=", "!", "(", ")", ",", ">", "<")
_STOP = set(" \t\n\r!=(),<>")


def _tokens(text: str) -> list[str]:
    """Symbols and identifiers, whitespace dropped (selector.go: Lexer)."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\n\r":
            i += 1
            continue
        for sym in _SYMBOLS:
            if text.startswith(sym, i):
                out.append(sym)
                i += len(sym)
                break
        else:
            j = i
            while j < n and text[j] not in _STOP:
                j += 1
            out.append(text[i:j])
            i = j
    return out


def _is_ident(tok: str | None) -> bool:
    return tok is not None and tok not in _SYMBOLS


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def take(self) -> str | None:
        tok = self.peek()
        self.pos += 1
        return tok

    def key(self) -> str:
        tok = self.take()
        if not _is_ident(tok) or tok in ("in", "notin"):
            raise SelectorError(f"found '{tok or ''}', expected: identifier")
        assert tok is not None
        if not is_qualified_name(tok):
            raise SelectorError(f"invalid label key {tok!r}")
        return tok

    def value(self) -> str:
        tok = self.peek()
        if tok is None or tok in (",", ")"):
            return ""  # "k=" selects the empty value
        if not _is_ident(tok):
            raise SelectorError(f"found '{tok}', expected: identifier")
        self.pos += 1
        if not is_label_value(tok):
            raise SelectorError(f"invalid label value {tok!r}")
        return tok

    def requirement(self) -> Requirement:
        if self.peek() == "!":
            self.take()
            return Requirement(self.key(), "!")
        key = self.key()
        op = self.peek()
        if op is None or op == ",":
            return Requirement(key, "exists")
        self.take()
        if op in ("=", "==", "!="):
            return Requirement(key, op, (self.value(),))
        if op in ("in", "notin"):
            if self.take() != "(":
                raise SelectorError("found '', expected: '('")
            values: list[str] = []
            while True:
                values.append(self.value())
                tok = self.take()
                if tok == ")":
                    break
                if tok != ",":
                    raise SelectorError(f"found '{tok or ''}', expected: ',' or ')'")
            values = [v for v in values if v] if values == [""] else values
            if not values:
                raise SelectorError("for 'in', 'notin' operators, values set can't be empty")
            return Requirement(key, op, tuple(values))
        if op in (">", "<"):
            v = self.value()
            try:
                int(v)
            except ValueError:
                raise SelectorError(f"for 'Gt', 'Lt' operators, the value must be an integer: {v!r}") from None
            return Requirement(key, "gt" if op == ">" else "lt", (v,))
        raise SelectorError(f"found '{op}', expected: =, !=, ==, in, notin")

    def parse(self) -> Selector:
        reqs: list[Requirement] = []
        if self.peek() is None:
            return EVERYTHING
        while True:
            reqs.append(self.requirement())
            tok = self.take()
            if tok is None:
                return Selector(tuple(reqs))
            if tok != ",":
                raise SelectorError(f"found '{tok}', expected: ',' or 'end of string'")
            if self.peek() is None:
                raise SelectorError("found '', expected: identifier after ','")


def parse(text: str | None) -> Selector:
    """Parse a labelSelector query parameter; None or blank selects everything."""
    if text is None:
        return EVERYTHING
    return _Parser(text).parse()
