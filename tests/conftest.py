"""Fixtures: real lambda-emu servers (real clock and manual clock) and boto3 clients against them.

Servers are shared per session; tests keep out of each other's way by naming their own functions,
queues and streams with `support.unique()`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import RunningServer


@pytest.fixture(scope="session")
def server() -> Iterator[RunningServer]:
    running = RunningServer().start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def manual_server() -> Iterator[RunningServer]:
    """A server whose clock moves only through /_emu/clock/advance and /_emu/clock/settle."""
    running = RunningServer(clock="manual").start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def lam(server: RunningServer) -> Any:
    return server.client("lambda")


@pytest.fixture(scope="session")
def manual_lam(manual_server: RunningServer) -> Any:
    return manual_server.client("lambda")


@pytest.fixture(scope="session")
def sqs(server: RunningServer) -> Any:
    return server.client("sqs")


@pytest.fixture(scope="session")
def manual_sqs(manual_server: RunningServer) -> Any:
    return manual_server.client("sqs")


@pytest.fixture(scope="session")
def kinesis(server: RunningServer) -> Any:
    return server.client("kinesis")


@pytest.fixture(scope="session")
def manual_kinesis(manual_server: RunningServer) -> Any:
    return manual_server.client("kinesis")


@pytest.fixture(scope="session")
def docker_client() -> Any:
    from tests.docker_support import docker_client

    return docker_client()


@pytest.fixture(scope="session")
def docker_server(docker_client: Any) -> Iterator[RunningServer]:
    """A server with --runner docker and the local base images for python3.11 and python3.13."""
    from tests.docker_support import IMAGES

    running = RunningServer(runner="docker", images=dict(IMAGES)).start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def docker_lam(docker_server: RunningServer) -> Any:
    return docker_server.client("lambda")


@pytest.fixture(scope="session")
def docker_manual_server(docker_client: Any) -> Iterator[RunningServer]:
    """--runner docker on the manual clock (the event sources' timing, through containers)."""
    from tests.docker_support import IMAGES

    running = RunningServer(runner="docker", images=dict(IMAGES), clock="manual").start()
    yield running
    running.stop()


@pytest.fixture
def manual_mappings(manual_server: RunningServer, manual_lam: Any) -> Iterator[list[str]]:
    """UUIDs of event source mappings a test made on the manual-clock server; deleted afterwards, so no
    poller or timer of theirs outlives the test."""
    made: list[str] = []
    yield made
    for uuid in made:
        try:
            manual_lam.delete_event_source_mapping(UUID=uuid)
        except ClientError:
            pass
    manual_server.advance(0)


@pytest.fixture(scope="module")
def delayed() -> Iterator[RunningServer]:
    """A manual-clock server started with --creation-delays (AWS-like CREATING/Pending/InProgress phases)."""
    running = RunningServer(clock="manual", creation_delays=True).start()
    yield running
    running.stop()


@pytest.fixture
def mapping(manual_server: RunningServer, manual_lam: Any) -> Iterator[Callable[..., dict[str, Any]]]:
    """Create a stream event source mapping (and let its poller start); every mapping is deleted after
    the test, so no retry timer of one test outlives it on the shared manual clock."""
    created: list[str] = []

    def create(function: str, stream_arn: str, **params: Any) -> dict[str, Any]:
        params.setdefault("StartingPosition", "TRIM_HORIZON")
        response = manual_lam.create_event_source_mapping(FunctionName=function, EventSourceArn=stream_arn,
                                                          **params)
        created.append(response["UUID"])
        manual_server.advance(0)
        return response

    yield create
    for uuid in created:
        try:
            manual_lam.delete_event_source_mapping(UUID=uuid)
        except ClientError:
            pass
    manual_server.advance(0)
