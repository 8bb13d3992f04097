"""Promises of the API that hold whatever a release does: the second oracle, kept apart from the model.

The model (``model/apiserver.py``) says what a release answers; these checks say what any answer must respect.
Where a release breaks one of them the failure is a finding (``conformance/findings.py`` recognises the known
ones), never a model rule.

``api.no-5xx-for-client-errors``: a 5xx answer says the server failed, not the request
(apimachinery/pkg/api/errors/errors.go: NewInternalError is "an unexpected internal error"; the API conventions'
"HTTP Status codes" section keeps 4xx for what the client got wrong). The harness sends every request to a
healthy server and storage (the machines that disrupt etcd or a server do not hold answers to this check), so
any 5xx it gets is a request the server should have answered with a 4xx, or a server that failed on a request
it should have served: both are bugs. A 504 for a read at a resourceVersion the server has not reached is the
one 5xx the API documents for a healthy server ("Too large resource version"); the state machines never ask
for one, and it is not excused here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conformance.checks import check


@check("api.no-5xx-for-client-errors")
def no_5xx(what: str | Callable[[], str], code: int, body: Any) -> list[str]:
    """``what`` (the request, rendered, or a function that renders it: called only for a problem) was answered
    ``code``; a 5xx is a problem."""
    if code < 500:
        return []
    message = body.get("message") if isinstance(body, dict) else body
    return [f"{what if isinstance(what, str) else what()} was answered {code}: {message!r}"]
