"""Pod requests as the scheduler computes them (component-helpers/resource/helpers.go: PodRequests)."""

from __future__ import annotations

import pytest

from model.scheduler import Resources, node_info, non_zero_requests, overcommitted, requests, scoring_requests

MI = 1024 * 1024
GI = 1024 * MI


def c(name: str, image: str = "img", restart: str | None = None, **req: str) -> dict:
    out: dict = {"name": name, "image": image}
    if req:
        out["resources"] = {"requests": {k.replace("_", "-"): v for k, v in req.items()}}
    if restart:
        out["restartPolicy"] = restart
    return out


def pod(containers: list[dict], init: list[dict] | None = None, **spec: object) -> dict:
    body: dict = {"containers": containers, **spec}
    if init is not None:
        body["initContainers"] = init
    return {"metadata": {"name": "p", "namespace": "ns"}, "spec": body}


def test_init_containers_raise_to_their_peak() -> None:
    # the worked example in noderesources/fit.go: containers 2+1 cpu, init peaks at 2 cpu / 3G memory
    p = pod([c("c1", cpu="2", memory="1G"), c("c2", cpu="1", memory="1G")],
            init=[c("i1", cpu="2", memory="1G"), c("i2", cpu="2", memory="3G")])
    assert requests(p) == Resources(milli_cpu=3000, memory=3_000_000_000, ephemeral_storage=0, pods=1)


@pytest.mark.parametrize(
    ("init", "want_cpu"),
    [
        # sidecar s (1 cpu) runs beside i (2 cpu): init peak 3 > containers 1 + sidecar 1
        ([c("s", restart="Always", cpu="1"), c("i", cpu="2")], 3000),
        # i runs before the sidecar starts: peak 2 == containers 1 + sidecar 1
        ([c("i", cpu="2"), c("s", restart="Always", cpu="1")], 2000),
        # two sidecars and no plain init container: they simply add to the containers
        ([c("s1", restart="Always", cpu="1"), c("s2", restart="Always", cpu="500m")], 2500),
        # a restartPolicy other than Always is a plain init container
        ([c("i", restart="Never", cpu="4")], 4000),
    ],
)
def test_sidecars(init: list[dict], want_cpu: int) -> None:
    assert requests(pod([c("c", cpu="1")], init=init)).milli_cpu == want_cpu


def test_overhead_is_added_after_the_init_peak() -> None:
    p = pod([c("c", cpu="100m", memory="64Mi")], init=[c("i", cpu="1")],
            overhead={"cpu": "250m", "memory": "32Mi", "ephemeral-storage": "1Ki"})
    assert requests(p) == Resources(1250, 96 * MI, 1024, 1)


@pytest.mark.parametrize(
    ("cpus", "want"),
    [
        (["0.5m"], 1),  # MilliValue rounds up
        (["0.5m", "0.5m"], 1),  # summed exactly before rounding, not 1 + 1
        (["1.5m", "1.5m"], 3),
        (["250m", "0.25"], 500),
        (["1e-3"], 1),
    ],
)
def test_cpu_is_summed_exactly_then_rounded_up(cpus: list[str], want: int) -> None:
    assert requests(pod([c(f"c{i}", cpu=q) for i, q in enumerate(cpus)])).milli_cpu == want


def test_memory_rounds_up_to_whole_bytes() -> None:
    assert requests(pod([c("c", memory="1500m")])).memory == 2


def test_missing_requests_are_zero() -> None:
    assert requests({"spec": {"containers": [{"name": "c", "image": "x"}]}}) == Resources(0, 0, 0, 1)
    assert requests({}) == Resources(0, 0, 0, 1)


def test_non_zero_requests_default_per_container() -> None:
    # c1 names cpu only, c2 names nothing: 500m + 100m cpu, 200Mi + 200Mi memory
    p = pod([c("c1", cpu="500m"), c("c2")])
    assert non_zero_requests(p) == Resources(600, 400 * MI, 0, 1)
    # an explicit zero is kept
    assert non_zero_requests(pod([c("c", cpu="0", memory="0")])) == Resources(0, 0, 0, 1)


def test_non_zero_requests_apply_to_init_containers_too() -> None:
    # the init container without requests counts as 100m/200Mi, above the container's 50m/100Mi
    p = pod([c("c", cpu="50m", memory="100Mi")], init=[c("i")])
    assert non_zero_requests(p) == Resources(100, 200 * MI, 0, 1)
    assert requests(p) == Resources(50, 100 * MI, 0, 1)


def test_pod_level_requests_override_containers() -> None:
    p = pod([c("c1", memory="100Mi"), c("c2")], resources={"requests": {"cpu": "2"}})
    assert requests(p) == Resources(2000, 100 * MI, 0, 1)
    # both cpu and memory are named somewhere, so no defaults for the node's sum
    assert non_zero_requests(p) == Resources(2000, 100 * MI, 0, 1)
    # scoring the incoming pod defaults each container's memory: 100Mi + 200Mi
    assert scoring_requests(p) == Resources(2000, 300 * MI, 0, 1)


def test_pod_level_requests_default_only_what_nobody_names() -> None:
    p = pod([c("c1"), c("c2")], resources={"requests": {"cpu": "1"}})
    assert non_zero_requests(p) == Resources(1000, 400 * MI, 0, 1)


def test_node_info_sums_and_overcommit() -> None:
    node = {"metadata": {"name": "n"}, "status": {"allocatable": {"cpu": "1", "memory": "1Gi", "pods": "1"}}}
    pods = [pod([c("a", cpu="600m", memory="100Mi")]), pod([c("b", cpu="500m")])]
    info = node_info(node, pods)
    assert info.requested == Resources(1100, 100 * MI, 0, 2)
    assert info.non_zero_requested == Resources(1100, 300 * MI, 0, 2)
    assert info.allocatable == Resources(1000, GI, 0, 1)
    assert overcommitted(info) == ("pods", "cpu")
    assert overcommitted(node_info(node, pods[:1])) == ()
    assert overcommitted(node_info({"metadata": {"name": "bare"}}, pods[:1])) == ("pods", "cpu", "memory")
