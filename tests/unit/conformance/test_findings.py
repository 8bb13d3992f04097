"""The findings registry: which answers of which releases each known finding explains."""

from __future__ import annotations

from conformance import findings

MALFORMED = {"kind": "Status", "code": 500,
             "message": 'resourceVersion: Invalid value: "abc": strconv.ParseUint: parsing "abc": invalid syntax'}


def known(verb: str, version: str) -> str | None:
    found = findings.matching("api.no-5xx-for-client-errors", verb, "pods", 500, MALFORMED, version)
    return found.id if found else None


def test_a_list_at_a_malformed_resource_version_is_a_finding_only_before_1_33() -> None:
    # measured on v1.29.15: 500 for lists and gets; the watch cache answers a list 400 from 1.33 (kubernetes#130688)
    assert known("list", "v1.29.15") == "list-with-malformed-resourceversion-500"
    assert known("list", "v1.32.9") == "list-with-malformed-resourceversion-500"
    assert known("list", "v1.33.0") is None and known("list", "v1.37.2") is None
    # gets answer 500 in every release so far (kubernetes#139485)
    assert known("get", "v1.29.15") == known("get", "v1.37.2") == "get-with-malformed-resourceversion-500"
    assert known("list", "v1.29.15-kubeprop") is None  # the bundled server is held to the contract


def test_a_fixed_finding_explains_nothing_from_the_release_that_fixed_it() -> None:
    ids = {f.id for f in findings.applicable("v1.36.3")}
    assert "create-on-update-keeps-deletion" in ids
    assert "create-on-update-keeps-deletion" not in {f.id for f in findings.applicable("v1.37.2")}
    assert {f.id for f in findings.applicable("v1.28.0")} == {f.id for f in findings.FINDINGS}


REQUEST_INFO = ('Internal Server Error: "/api/v1/watch": failed to create RequestInfo: unable to determine kind and '
                "namespace from url, /api/v1/watch\n")


def test_a_watch_prefix_without_a_resource_answered_500_is_a_finding_of_every_release_measured() -> None:
    def known(verb: str, code: int, body: object, version: str) -> str | None:
        found = findings.matching("api.no-5xx-for-client-errors", verb, "pods", code, body, version)
        return found.id if found else None

    for version in ("v1.29.15", "v1.36.3", "v1.37.2"):
        assert known("list", 500, REQUEST_INFO, version) == "watch-without-resource-500"
    assert known("list", 500, REQUEST_INFO, "v1.37.2-kubeprop") is None  # the bundled server is held to the contract
    assert known("list", 500, "Internal Server Error: etcd is down", "v1.37.2") is None
    assert known("list", 500, {"kind": "Status", "message": REQUEST_INFO}, "v1.37.2") is None  # text, not a Status
