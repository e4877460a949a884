"""The bodies /_emu endpoints accept (pydantic: these inputs are lambda-emu's own, not AWS's)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AdvanceInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(ge=0, le=10 * 365 * 86400)


class FaultsInput(BaseModel):
    """Fault injection for one function (or, without functionName, for every function)."""

    model_config = ConfigDict(extra="forbid")
    functionName: str | None = Field(None, min_length=1, max_length=64)
    duplicateRate: float = Field(ge=0.0, le=1.0)


class SettleInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    maxSeconds: float = Field(86400, ge=0, le=10 * 365 * 86400)
