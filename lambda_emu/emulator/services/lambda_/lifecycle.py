"""A function's state after CreateFunction and Update*: Pending → Active, InProgress → Successful.

Without ``--creation-delays`` nothing is provisioned, so the function is ready before lambda-emu answers
its next request: Create / Update* still answer ``Pending`` / ``InProgress`` as AWS does, and the
function then becomes ``Active`` / ``Successful`` with a new RevisionId (AWS changes it at each of those
transitions, recorded), so boto3's waiters pass at their first poll. With ``--creation-delays`` the
transitional states last AWS-like durations on the platform clock: invoking a Pending function is AWS's
409, a second update while one is in progress is AWS's ResourceConflictException, and invocations during
an update run the previous code and configuration (docs/aws-behaviour.md §Function states).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from lambda_emu.emulator.platform.errors import resource_conflict

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.functions import Function, FunctionRegistry
    from lambda_emu.emulator.invocation.pool import Environments
    from lambda_emu.emulator.platform.clock import Clock

#: How long Pending and InProgress last with --creation-delays (platform seconds): a zip function outside
#: a VPC typically turns Active, and an update Successful, within a few seconds on AWS.
CREATE_SECONDS = 2.0
UPDATE_SECONDS = 3.0


class Lifecycle:
    def __init__(self, clock: Clock, functions: FunctionRegistry, environments: Environments, *,
                 delays: bool) -> None:
        self.clock = clock
        self.functions = functions
        self.environments = environments
        self.delays = delays
        #: The function as it was before an update in progress, by name: what invocations run meanwhile.
        self._previous: dict[str, Function] = {}

    def running(self, function: Function) -> Function:
        """What an invocation runs: the previous code and configuration while an update of $LATEST is in
        progress (a published version never changes)."""
        if not function.update_in_progress or function.version != "$LATEST":
            return function
        return self._previous.get(function.name, function)

    def check_update(self, function: Function) -> Function | None:
        """Before an update: refused while the function is Pending or another update is in progress;
        returns the function as it is now (to run meanwhile) when the update will take time."""
        if function.update_in_progress:
            raise resource_conflict("The operation cannot be performed at this time. An update is in progress "
                                    f"for resource: {function.arn}")
        if function.state == "Pending" and function.dependencies.status != "installing":
            raise resource_conflict("The operation cannot be performed at this time. The function is currently "
                                    f"in the following state: {function.state}")
        return copy.copy(function) if self.delays else None

    def created(self, function: Function) -> None:
        """After CreateFunction's answer was made: Active now, or after CREATE_SECONDS."""
        if not self.delays:
            self._ready(function)
            return
        function.state, function.state_reason_code = "Pending", "Creating"
        function.state_reason = "The function is being created."

        def active() -> None:
            if self.functions.find(function.name) is function and function.state == "Pending":
                function.state, function.state_reason, function.state_reason_code = "Active", None, None
                self._ready(function)

        self.clock.call_later(CREATE_SECONDS, active)

    def updated(self, function: Function, previous: Function | None, cleanup: Callable[[], None] | None,
                published: Function | None = None) -> None:
        """After an update's answer was made: Successful now, or after UPDATE_SECONDS; ``cleanup`` (the old
        code's removal) runs once nothing runs the previous code any more. A version ``published`` with the
        update (Publish) is Pending as long as the update is in progress (recorded), then Active with the
        same RevisionId (AWS: a version turning Active keeps its revision)."""
        if previous is None:
            if cleanup is not None:
                cleanup()
            self.environments.retire_function(function)
            self._ready(function)
            return
        function.update_in_progress = True
        self._previous[function.name] = previous
        if published is not None:
            published.state, published.state_reason_code = "Pending", "Creating"
            published.state_reason = "The function is being created."

        def successful() -> None:
            if self._previous.get(function.name) is previous:
                del self._previous[function.name]
            function.update_in_progress = False
            if published is not None and published.state == "Pending":
                published.state, published.state_reason, published.state_reason_code = "Active", None, None
                self.functions.saved(published)
            if cleanup is not None:
                cleanup()
            if self.functions.find(function.name) is function:
                self.environments.retire_function(function)
                self._ready(function)

        self.clock.call_later(UPDATE_SECONDS, successful)

    def forget(self, function: Function) -> None:
        self._previous.pop(function.name, None)

    def _ready(self, function: Function) -> None:
        old, function.revision_id = function.revision_id, str(uuid.uuid4())
        # A version published from the revision just replaced (Publish=True) still has nothing new to
        # publish: AWS compares code and configuration, not the RevisionId a state change gives.
        versions = self.functions.versions_of(function.name)
        if versions and versions[-1].source_revision == old:
            versions[-1].source_revision = function.revision_id
        self.functions.saved(function)
