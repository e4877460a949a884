"""No container outlives lambda-emu: every container carries the labels ``lambda-emu.run`` (its run),
``lambda-emu.function`` and ``lambda-emu.owner`` (the owning process, "pid:start time"). A run removes
its own containers when it stops; any later start removes those of runs whose owner is gone (killed
before it could clean up): ``--runner docker`` through the SDK before it serves, any other start with
``sweep.py``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import psutil

LABEL_RUN = "lambda-emu.run"
LABEL_FUNCTION = "lambda-emu.function"
#: The owning lambda-emu process ("pid:start time"), so a later run can tell a live owner from a dead one.
LABEL_OWNER = "lambda-emu.owner"

def owner_label() -> str:
    me = psutil.Process()
    return f"{me.pid}:{me.create_time():.3f}"


def owner_alive(label: str) -> bool:
    pid_text, _, started = label.partition(":")
    try:
        process = psutil.Process(int(pid_text))
        return abs(process.create_time() - float(started)) < 1.0
    except (psutil.Error, ValueError):
        return False


def labels_of(run_id: str, function_name: str, owner: str) -> dict[str, str]:
    return {LABEL_RUN: run_id, LABEL_FUNCTION: function_name, LABEL_OWNER: owner}


def of_dead_run(labels: dict[str, str], own_run: str | None = None) -> bool:
    """A container of another run whose owner is gone."""
    return labels.get(LABEL_RUN) != own_run and not owner_alive(labels.get(LABEL_OWNER, ""))


def remove_where(client: Any, wanted: Callable[[dict[str, str]], bool],
                 remove: Callable[[str], None] | None = None) -> int:
    """Remove (running or not) every lambda-emu container whose labels ``wanted`` selects."""
    import docker.errors

    def force_remove(container_id: str) -> None:
        with contextlib.suppress(docker.errors.APIError, OSError):
            client.api.remove_container(container_id, force=True)

    removed = 0
    for item in client.api.containers(all=True, filters={"label": LABEL_RUN}):
        if wanted(item.get("Labels") or {}):
            (remove or force_remove)(item["Id"])
            removed += 1
    return removed

