"""Function configuration lambda-emu accepts and echoes but has nothing local to apply to: SnapStart,
VpcConfig, KMSKeyArn, FileSystemConfigs. Each is kept on the function in the shape FunctionConfiguration
reports it (docs/aws-behaviour.md §Kept configuration), never dropped silently."""

from __future__ import annotations

from typing import Any


def kept(params: dict[str, Any]) -> dict[str, Any]:
    """The FunctionConfiguration members a Create/UpdateFunctionConfiguration request sets."""
    out: dict[str, Any] = {}
    if "SnapStart" in params:
        # $LATEST is never optimized: OptimizationStatus turns On only for published versions.
        out["SnapStart"] = {"ApplyOn": (params["SnapStart"] or {}).get("ApplyOn") or "None",
                            "OptimizationStatus": "Off"}
    if "VpcConfig" in params:
        vpc = params["VpcConfig"] or {}
        # AWS derives VpcId from the subnets; there is no VPC locally to derive it from.
        out["VpcConfig"] = {"SubnetIds": list(vpc.get("SubnetIds") or []),
                            "SecurityGroupIds": list(vpc.get("SecurityGroupIds") or []),
                            "Ipv6AllowedForDualStack": bool(vpc.get("Ipv6AllowedForDualStack", False)),
                            "VpcId": ""}
    if "KMSKeyArn" in params:
        out["KMSKeyArn"] = params["KMSKeyArn"] or ""
    if "FileSystemConfigs" in params:
        out["FileSystemConfigs"] = [dict(c) for c in params["FileSystemConfigs"] or []]
    return out
