"""Label selectors as the model reads them (apimachinery/pkg/labels/selector.go).

The model keeps selectors as structured requirements; ``render`` gives the
query-string form sent to a target, ``matches`` decides membership.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        # selector.go: Requirement.Matches
        has = self.key in labels
        if self.op == "=":
            return has and labels[self.key] == self.values[0]
        if self.op == "!=":
            return not has or labels[self.key] != self.values[0]
        if self.op == "in":
            return has and labels[self.key] in self.values
        if self.op == "notin":
            return not has or labels[self.key] not in self.values
        if self.op == "exists":
            return has
        if self.op == "!":
            return not has
        raise ValueError(f"unknown selector operator {self.op!r}")

    def render(self) -> str:
        if self.op in ("=", "!="):
            return f"{self.key}{self.op}{self.values[0]}"
        if self.op in ("in", "notin"):
            return f"{self.key} {self.op} ({','.join(self.values)})"
        if self.op == "exists":
            return self.key
        return f"!{self.key}"

    @property
    def set_based(self) -> bool:
        return self.op in ("in", "notin", "exists", "!")


@dataclass(frozen=True)
class Selector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: dict[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def render(self) -> str:
        return ",".join(r.render() for r in self.requirements)

    def __bool__(self) -> bool:
        return bool(self.requirements)
