"""Run one attempt of one invocation: get an environment (or be throttled), hand it the event,
journal the attempt, and return the outcome. Every source (sync, async, SQS, Kinesis) comes through here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from lambda_emu.emulator.invocation.functions import Function
from lambda_emu.emulator.invocation.narration import event_subject
from lambda_emu.emulator.invocation.outcomes import Outcome, timed_out
from lambda_emu.emulator.invocation.pool import Environments, ThrottleReason
from lambda_emu.emulator.platform.documents import json_or_text
from lambda_emu.emulator.platform.faults import EFFECTS, SERVICE_ERROR_MESSAGE, FaultName, Faults
from lambda_emu.emulator.platform.journal import Attempt, Journal, Source

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.recorder import Recorder
from lambda_emu.emulator.platform.logging import get_logger

log = get_logger("invoker")


class AsyncInvoke(Protocol):
    """Queue an event for asynchronous invocation (InvocationType=Event). The async queue of
    event_sources implements it; the Lambda API and Lambda destinations call it."""

    async def __call__(self, function: Function, payload: bytes, *, request_id: str, invoked_arn: str) -> None: ...


#: What one attempt came to: the function succeeded; it failed (any failure mode of the function or
#: its runtime: AWS's "function error"); it was throttled and never ran; or lambda-emu itself could
#: not run it (AWS's "service error", a 5xx, which sources retry like a throttle).
InvokeKind = Literal["success", "function_error", "throttled", "system_error"]


@dataclass
class InvokeResult:
    request_id: str
    kind: InvokeKind
    outcome: Outcome | None = None  # what the function produced: set exactly when it ran
    throttle_reason: ThrottleReason | None = None  # kind "throttled": why
    system_error: str | None = None  # kind "system_error": what went wrong inside lambda-emu
    #: The journal's record of this attempt: the source's driver writes its decision there.
    attempt: Attempt | None = None
    fault: FaultName | None = None  # the injected fault that hit the attempt

    @property
    def succeeded(self) -> bool:
        return self.kind == "success"

    @property
    def reached_function(self) -> bool:
        """Whether the function ran (a success or a function error); throttles and system errors didn't."""
        return self.outcome is not None

    @property
    def payload(self) -> bytes:
        return self.outcome.payload if self.outcome is not None else b""

    @property
    def function_error(self) -> str | None:
        """X-Amz-Function-Error: every failure mode is "Unhandled" on today's Lambda."""
        return "Unhandled" if self.kind == "function_error" else None

    def payload_json(self) -> object:
        """The payload as JSON when it is JSON (destination records embed it that way), else the text."""
        return json_or_text(self.payload) if self.payload else None


class Invoker:
    def __init__(self, journal: Journal, environments: Environments, faults: Faults, *,
                 recorder: Recorder | None = None) -> None:
        self.journal = journal
        self.environments = environments
        self.faults = faults
        self.recorder = recorder

    def decide(self, attempt: Attempt | None, decision: dict[str, Any] | None) -> None:
        """The source's driver tells what the platform did after ``attempt`` (the journal's decision)."""
        self.journal.decide(attempt, decision)

    def partial_failure(self, attempt: Attempt | None, failed_item_ids: list[str]) -> None:
        """The function returned, but these items of its batch failed (journaled as partialFailure)."""
        if attempt is not None:
            self.journal.partial_failure(attempt, failed_item_ids)

    def note(self, function_name: str, subject: str, text: str) -> None:
        """A platform event without an attempt of its own (a duplicate injected, an event dropped)."""
        self.journal.note(function_name, subject, text)

    def narrate_fault(self, fault: FaultName, function_name: str, source: str, request_id: str) -> None:
        """The terminal's line for an injected fault (through the journal's notes, as the narration tells
        every platform event), and lambda-emu's own log."""
        self.journal.note(function_name, event_subject(source, request_id), f"fault {fault}: {EFFECTS[fault]}")
        Faults.narrate(fault, function_name, request_id)

    async def invoke(
        self,
        function: Function,
        payload: bytes,
        *,
        request_id: str,
        source: Source,
        invoked_arn: str | None = None,
        client_context: str | None = None,
        duplicate: bool = False,
        source_detail: dict[str, Any] | None = None,
        context: dict[str, Any] | None = None,
        fault: FaultName | None = None,
    ) -> InvokeResult:
        """``source_detail`` is the journal's ``sourceDetail``; ``context`` what the narration needs.
        ``fault`` tags an attempt a source's own fault hit (a batch redelivered during processing); an
        injected duplicate is tagged ``duplicateRate``. The platform faults of an attempt are decided here."""
        journal = self.journal
        faults = self.faults
        if duplicate and fault is None:
            fault = "duplicateRate"
        # Faults that stop the attempt before it runs: no environment is taken. (No rate set, nothing to roll.)
        rolling = faults.active
        for before in (("throttleRate", "serviceErrorRate") if rolling else ()):
            if faults.roll(function.name, before):
                self.narrate_fault(before, function.name, source, request_id)
                attempt = journal.begin(request_id, function.name, source, duplicate=duplicate, payload=payload,
                                        source_detail=source_detail, context=context, fault=before,
                                        executed_version=function.version)
                if self.recorder is not None:
                    self.recorder.record(attempt, payload)
                if before == "throttleRate":
                    journal.finish(attempt, "throttled", error_type="TooManyRequestsException",
                                   error_message="Rate Exceeded. (ConcurrentInvocationLimitExceeded)", duration_ms=0.0)
                    return InvokeResult(request_id, "throttled", throttle_reason="ConcurrentInvocationLimitExceeded",
                                        attempt=attempt, fault="throttleRate")
                journal.finish(attempt, "error", error_type="ServiceException", error_message=SERVICE_ERROR_MESSAGE,
                               duration_ms=0.0)
                return InvokeResult(request_id, "system_error", system_error=SERVICE_ERROR_MESSAGE, attempt=attempt,
                                    fault="serviceErrorRate")
        env = self.environments.acquire(function)
        attempt = journal.begin(request_id, function.name, source, duplicate=duplicate, payload=payload,
                                source_detail=source_detail, context=context, fault=fault,
                                executed_version=function.version)
        if self.recorder is not None:
            self.recorder.record(attempt, payload)
        if isinstance(env, str):
            journal.finish(attempt, "throttled", error_type="TooManyRequestsException",
                           error_message=f"Rate Exceeded. ({env})", duration_ms=0.0)
            return InvokeResult(request_id, "throttled", throttle_reason=env, attempt=attempt, fault=fault)
        fail_init = rolling and env.process is None and faults.roll(function.name, "initFailureRate")
        if fail_init:
            fault = "initFailureRate"
            self.narrate_fault(fault, function.name, source, request_id)
        try:
            outcome = await env.invoke(request_id, payload, invoked_arn or function.qualified_arn, client_context,
                                       fail_init=fail_init)
            if faults.active and ran_to_completion(outcome) and faults.roll(function.name, "lostResponseRate"):
                # The function's side effects happened; the platform reports the attempt as timed out
                # (and resets the environment, as after any timeout).
                fault = "lostResponseRate"
                self.narrate_fault(fault, function.name, source, request_id)
                env.dead = True
                outcome = lost_response(outcome, request_id, function.timeout)
        except Exception as exc:  # noqa: BLE001 - a platform fault is reported, never lost
            log.exception("attempt failed inside lambda-emu", function=function.name, request_id=request_id)
            env.dead = True
            journal.finish(attempt, "error", error_type="ServiceException",
                           error_message=f"{type(exc).__name__}: {exc}", duration_ms=0.0)
            return InvokeResult(request_id, "system_error", system_error=f"{type(exc).__name__}: {exc}",
                                attempt=attempt)
        finally:
            self.environments.release(env)
        journal.finish(
            attempt,
            "success" if outcome.kind == "success" else "error",
            error_type=outcome.error_type,
            error_message=outcome.error_message,
            duration_ms=outcome.duration_ms,
            cold_start=outcome.cold_start,
            response=outcome.payload,
            log=outcome.log,
            fault=fault,
        )
        return InvokeResult(request_id, "success" if outcome.kind == "success" else "function_error", outcome,
                            attempt=attempt, fault=fault)


def ran_to_completion(outcome: Outcome) -> bool:
    """The handler returned or raised (what a lost response can follow); not a platform failure."""
    if outcome.kind == "success":
        return True
    error_type = outcome.error_type or ""
    return not error_type.startswith(("Sandbox.", "Runtime.")) and error_type != "Function.ResponseSizeTooLarge"


def lost_response(outcome: Outcome, request_id: str, timeout: float) -> Outcome:
    """The attempt as the platform reports it when the response never reached it: timed out."""
    lost = timed_out(request_id, float(timeout))
    lost.log = outcome.log
    lost.cold_start = outcome.cold_start
    lost.duration_ms = outcome.duration_ms
    return lost
