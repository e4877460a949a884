"""Container tests' prerequisites: a Docker engine and the local base images (`make docker-ready`).

Outside CI a missing prerequisite skips the container tests with the reason; under CI=true it fails
them (scripts/ci-docker.sh, run by .ci/run, installs and starts everything first).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

#: The local stand-ins of AWS's base images (docker/build-base-images.sh).
IMAGES = {"python3.11": "lambda-emu/python:3.11", "python3.13": "lambda-emu/python:3.13",
          "provided.al2023": "lambda-emu/provided:al2023", "provided.al2": "lambda-emu/provided:al2"}


def unavailable(reason: str) -> None:
    message = f"{reason} (run `make docker-ready`)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"container tests cannot run under CI: {message}", pytrace=False)
    pytest.skip(message)


def docker_client() -> Any:
    """The docker SDK's client, once the engine and the base images are known to be there."""
    import docker.errors

    import docker

    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - every failure means the same: no engine
        unavailable(f"no Docker engine answers: {exc}")
    for image in IMAGES.values():
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            unavailable(f"the base image {image} is missing")
    return client


def containers_of(client: Any, function_name: str) -> list[Any]:
    """Every container (running or not) lambda-emu made for a function."""
    # ignore_removed: a container removed between the SDK's listing and its inspect of each one (a start
    # sweeping dead runs' containers meanwhile) is simply not there.
    return client.containers.list(all=True, filters={"label": f"lambda-emu.function={function_name}"},
                                  ignore_removed=True)


def remove_leftover(container: Any) -> None:
    """A test's safety net: remove a container lambda-emu left, unless lambda-emu's own sweep (a start
    removing dead runs' containers in the background) already removed it or is removing it now."""
    import docker.errors

    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if "already in progress" not in str(exc):
            raise
