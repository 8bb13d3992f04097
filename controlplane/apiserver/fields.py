"""Field selectors: a parser and matcher following apimachinery/pkg/fields/selector.go (ParseSelector).

Grammar: terms separated by commas (a comma escaped with a backslash is part of a value), each ``f=v``,
``f==v`` or ``f!=v``; every term must hold. A value escapes ``\\``, ``,`` and ``=`` with a backslash and may
contain none of them unescaped. Terms are kept in sorted order, as upstream sorts them before anything reads
them (so the first term naming a field is the one an exact-match question finds). Which fields a selector may
name depends on the resource (:mod:`.strategies`): :meth:`FieldSelector.transform` checks them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .errors import go_quote

#: the operators a term may use, in the order they are looked for at each position (selector.go: termOperators)
_OPERATORS = ("!=", "==", "=")


class FieldSelectorError(ValueError):
    """The selector does not parse, or names a field the resource does not offer; the message is the API's."""


@dataclass(frozen=True)
class Term:
    field: str
    op: str  # "=" or "!="
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        # selector.go: hasTerm / notHasTerm -- a field the object does not have reads as ""
        have = fields.get(self.field, "")
        return have == self.value if self.op == "=" else have != self.value


@dataclass(frozen=True)
class FieldSelector:
    terms: tuple[Term, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.terms

    def matches(self, fields: Mapping[str, str]) -> bool:
        return all(t.matches(fields) for t in self.terms)

    def requires_exact(self, field: str) -> str | None:
        """The value the first ``field=value`` term asks for (selector.go: RequiresExactMatch), or None."""
        return next((t.value for t in self.terms if t.field == field and t.op == "="), None)

    def transform(self, convert: Callable[[str], str]) -> FieldSelector:
        """Every term's field through ``convert`` (the resource's field label conversion, which raises
        FieldSelectorError for a field it does not know), in order: the first unknown field is the one refused."""
        return FieldSelector(tuple(Term(convert(t.field), t.op, t.value) for t in self.terms))


EVERYTHING = FieldSelector()


def one_term(field: str, value: str) -> FieldSelector:
    return FieldSelector((Term(field, "=", value),))


def _split_terms(text: str) -> list[str]:
    """The terms between commas that no backslash escapes (the backslash stays in the term)."""
    terms, start, escaped = [], 0, False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    """(field, operator, raw value) at the first position where an operator starts, or None."""
    for i in range(len(term)):
        for op in _OPERATORS:
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op):]
    return None


def _unescape(value: str) -> str:
    if not any(ch in value for ch in "\\,="):
        return value
    out: list[str] = []
    escaped = False
    for ch in value:
        if escaped:
            if ch not in "\\,=":
                raise FieldSelectorError(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ",=":
            # selector.go: UnescapedRune prints the rune as a number
            raise FieldSelectorError(f"invalid field selector: unescaped character in value: {ord(ch)}")
        else:
            out.append(ch)
    if escaped:
        raise FieldSelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def parse(text: str | None) -> FieldSelector:
    """Parse a fieldSelector query parameter; None or blank selects everything."""
    if not text:
        return EVERYTHING
    terms: list[Term] = []
    for part in sorted(_split_terms(text)):
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise FieldSelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, raw = split
        terms.append(Term(field, "!=" if op == "!=" else "=", _unescape(raw)))
    return FieldSelector(tuple(terms))


#: the fields every object offers (apimachinery/pkg/runtime/conversion.go: DefaultMetaV1FieldSelectorConversion)
META_FIELDS = ("metadata.name", "metadata.namespace")


def default_conversion(label: str) -> str:
    """The field label conversion of a kind that registers none of its own (runtime/conversion.go:
    DefaultMetaV1FieldSelectorConversion)."""
    if label in META_FIELDS:
        return label
    raise FieldSelectorError(f"{go_quote(label)} is not a known field selector: only "
                             f"{go_quote(META_FIELDS[0])}, {go_quote(META_FIELDS[1])}")


def meta_fields(obj: Mapping[str, object], namespaced: bool) -> dict[str, str]:
    """apiserver/pkg/registry/generic/matcher.go: ObjectMetaFieldsSet -- metadata.namespace only where it exists."""
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    out = {"metadata.name": str(meta.get("name") or "")}
    if namespaced:
        out["metadata.namespace"] = str(meta.get("namespace") or "")
    return out
