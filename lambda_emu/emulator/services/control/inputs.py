"""The bodies /_emu endpoints accept (pydantic: these inputs are lambda-emu's own, not AWS's).

Strict: a number given as a string or a boolean is a mistake in the caller's test, not something to
coerce ("5" seconds, true as a rate); NaN and infinities are refused as well.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class AdvanceInput(BaseModel):
    model_config = STRICT
    seconds: float = Field(ge=0, le=10 * 365 * 86400)


class FaultsInput(BaseModel):
    """Fault injection for one function (or, without functionName, for every function)."""

    model_config = STRICT
    functionName: str | None = Field(None, min_length=1, max_length=64)
    duplicateRate: float = Field(ge=0.0, le=1.0)


class SettleInput(BaseModel):
    model_config = STRICT
    maxSeconds: float = Field(86400, ge=0, le=10 * 365 * 86400)
