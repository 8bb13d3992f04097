"""Go integer semantics and Kubernetes quantity conversions the scheduler model relies on.

The scheduler computes in int64 and converts quantities with ``MilliValue`` and
``Value``, both of which round up. Python's ``//`` floors, which differs from
Go's ``/`` on negative operands, so every division that may see a negative
numerator goes through :func:`go_div`.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Decimal

from kubernetes.utils.quantity import parse_quantity

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_DECIMAL_INT = re.compile(r"[+-]?[0-9]+")


def go_div(a: int, b: int) -> int:
    """Integer division truncating toward zero, as Go's ``/`` on int64."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def parse_int64(s: str) -> int | None:
    """``strconv.ParseInt(s, 10, 64)``: an optional sign then decimal digits, within int64; else ``None``."""
    if not isinstance(s, str) or not _DECIMAL_INT.fullmatch(s):
        return None
    v = int(s)
    return v if _INT64_MIN <= v <= _INT64_MAX else None


def quantity(value: object) -> Decimal:
    """A resource quantity as an exact Decimal (``"250m"`` is 0.25)."""
    return parse_quantity(value)


def ceil(d: Decimal) -> int:
    return int(d.to_integral_value(rounding=ROUND_CEILING))


def milli_value(d: Decimal) -> int:
    # apimachinery/pkg/api/resource/quantity.go: Quantity.MilliValue (rounds up)
    return ceil(d * 1000)


def value(d: Decimal) -> int:
    # apimachinery/pkg/api/resource/quantity.go: Quantity.Value (rounds up)
    return ceil(d)
