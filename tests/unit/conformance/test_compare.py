"""The comparison of answers with the model (conformance/compare.py): its shortcut for identical objects never
hides a difference the full walk names."""

from __future__ import annotations

from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from conformance import compare
from conformance.compare import exact_diffs, identical, object_diffs

#: JSON values made of the ones the comparison treats specially: zeros of each type, empty maps and lists,
#: timestamps and the unpredicted metadata fields
SCALARS = st.sampled_from((None, 0, 0.0, 1, 1.0, False, True, "", "x", "2026-01-01T00:00:00Z"))
KEYS = st.sampled_from(("a", "b", "creationTimestamp", "resourceVersion", "uid", "conditions", "type"))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
                      max_leaves=8)
OBJECTS = st.fixed_dictionaries({"kind": st.just("Pod"), "metadata": st.dictionaries(KEYS, VALUES, max_size=3)},
                                optional={"spec": VALUES, "status": VALUES})


@settings(max_examples=500)
@given(VALUES, VALUES)
def test_identical_values_have_no_differences(a: object, b: object) -> None:
    if identical(a, b):
        assert exact_diffs(a, b, "") == []
    assert identical(a, a)


@settings(max_examples=500)
@given(OBJECTS, OBJECTS, st.booleans(), st.sampled_from((0, 5)))
def test_object_diffs_agree_with_the_full_walk(a: dict, b: dict, check_kind: bool, skew: int) -> None:
    got = object_diffs(a, b, check_kind=check_kind, time_skew=skew)
    with mock.patch.object(compare, "identical", lambda _a, _b: False):  # no shortcut: every field walked
        assert got == object_diffs(a, b, check_kind=check_kind, time_skew=skew)
    b["metadata"]["uid"] = a["metadata"].get("uid")
    got = object_diffs(a, b, check_kind=check_kind, time_skew=skew)
    with mock.patch.object(compare, "identical", lambda _a, _b: False):
        assert got == object_diffs(a, b, check_kind=check_kind, time_skew=skew)


def test_zeros_of_different_types_are_not_identical() -> None:
    # {"a": 0.0} is not empty to the full walk, {"a": 0} is: the shortcut must leave them to it
    assert not identical({"a": 0}, {"a": 0.0})
    assert not identical(False, 0)
    assert exact_diffs({"x": {"a": 0}}, {"x": {"a": 0.0}}, "") != []
    assert object_diffs({"kind": "Pod", "metadata": {}, "spec": {"a": 0}},
                        {"kind": "Pod", "metadata": {}, "spec": {"a": 0.0}}) != []
