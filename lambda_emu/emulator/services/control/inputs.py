"""The bodies /_emu endpoints accept (pydantic: these inputs are lambda-emu's own, not AWS's).

Strict: a number given as a string or a boolean is a mistake in the caller's test, not something to
coerce ("5" seconds, true as a rate); NaN and infinities are refused as well.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class AdvanceInput(BaseModel):
    model_config = STRICT
    seconds: float = Field(ge=0, le=10 * 365 * 86400)


class FaultsInput(BaseModel):
    """Fault injection for one function (or, without functionName, for every function): the rates
    given change, the others stay as they are (platform/faults.py names them)."""

    model_config = STRICT
    functionName: str | None = Field(None, min_length=1, max_length=64)
    duplicateRate: float | None = Field(None, ge=0.0, le=1.0)
    throttleRate: float | None = Field(None, ge=0.0, le=1.0)
    serviceErrorRate: float | None = Field(None, ge=0.0, le=1.0)
    lostResponseRate: float | None = Field(None, ge=0.0, le=1.0)
    initFailureRate: float | None = Field(None, ge=0.0, le=1.0)
    redeliverDuringProcessingRate: float | None = Field(None, ge=0.0, le=1.0)


class ResetInput(BaseModel):
    """POST /_emu/reset: optionally a new seed for the run's one RNG (the pytest marker's ``seed``)."""

    model_config = STRICT
    seed: int | None = Field(None, ge=0, le=2**63 - 1)


class TemplateInput(BaseModel):
    """POST /_emu/template: a template on this machine, and values for its Parameters."""

    model_config = STRICT
    path: str = Field(min_length=1)
    parameters: dict[str, str] = Field(default_factory=dict)


class SettleInput(BaseModel):
    model_config = STRICT
    maxSeconds: float = Field(86400, ge=0, le=10 * 365 * 86400)


class ReplayDelivery(BaseModel):
    """One event sent again (see services/control/replay.py): an invoke, an SQS message or a Kinesis record."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
    kind: Literal["invoke", "sqs", "kinesis"]
    delay: float = Field(0.0, ge=0, le=10 * 365 * 86400)
    functionName: str | None = Field(None, min_length=1, max_length=170)
    invocationType: Literal["Event", "RequestResponse"] | None = None
    payload: Any = None
    raw: bool = False
    queue: str | None = Field(None, min_length=1)
    body: str | None = None
    messageAttributes: dict[str, dict[str, Any]] | None = None
    messageGroupId: str | None = None
    messageDeduplicationId: str | None = None
    stream: str | None = Field(None, min_length=1)
    partitionKey: str | None = Field(None, min_length=1, max_length=256)
    data: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> ReplayDelivery:
        needed = {"invoke": ("functionName",), "sqs": ("queue", "body"), "kinesis": ("stream", "partitionKey")}
        missing = [name for name in needed[self.kind] if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a {self.kind} delivery needs {', '.join(missing)}")
        return self


class ReplayInput(BaseModel):
    """Deliveries to make (now, or ``delay`` seconds later), or a queue to drain into a function."""

    model_config = STRICT
    deliveries: list[ReplayDelivery] = Field(default_factory=list, max_length=100_000)
    fromQueue: str | None = Field(None, min_length=1)
    functionName: str | None = Field(None, min_length=1, max_length=170)
    invocationType: Literal["Event", "RequestResponse"] = "Event"

    @model_validator(mode="after")
    def _drain_needs_function(self) -> ReplayInput:
        if self.fromQueue is not None and self.functionName is None:
            raise ValueError("fromQueue needs functionName")
        return self
