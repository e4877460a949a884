"""Code signing configurations: stored and reported with AWS's shapes and errors, never enforced.

lambda-emu verifies no signature (there is no AWS Signer locally), so ``UntrustedArtifactOnDeployment``
``Enforce`` refuses nothing; a function's association (PutFunctionCodeSigningConfig, CreateFunction's
``CodeSigningConfigArn``) is kept on the function (docs/aws-behaviour.md §Code signing).
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.platform.errors import AwsError, lambda_error
from lambda_emu.emulator.services import pagination

if TYPE_CHECKING:
    from lambda_emu.emulator.invocation.functions import FunctionRegistry
    from lambda_emu.emulator.platform.state import StateStore

#: --state-dir's record kind for a code signing configuration (keyed by its ARN).
STATE_KIND = "lambda-csc"


def config_not_found(arn: str) -> AwsError:
    # AWS's body for this one has no "Type" (recorded).
    return AwsError("ResourceNotFoundException", f"The Lambda code signing configuration {arn} can not be found.", 404)


def _timestamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}+0000"


class CodeSigningApi:
    """Mixed into LambdaService (which provides ``functions``, ``region``, ``account_id``)."""

    functions: FunctionRegistry
    region: str
    account_id: str
    #: Code signing configurations by ARN (forgotten on reset; written through to --state-dir).
    code_signing_configs: dict[str, dict[str, Any]]
    state: StateStore | None

    def _save_csc(self, config: dict[str, Any]) -> None:
        if self.state is not None:
            self.state.put(STATE_KIND, config["CodeSigningConfigArn"], lambda: dict(config))

    def restore_code_signing_configs(self) -> None:
        """The configurations an earlier run of this state directory created (functions keep their ARN)."""
        if self.state is not None:
            for arn, record in self.state.load(STATE_KIND):
                self.code_signing_configs[arn] = dict(record)

    def reset_code_signing_configs(self) -> None:
        self.code_signing_configs.clear()
        if self.state is not None:
            self.state.delete_all(STATE_KIND)

    def _csc(self, arn: str) -> dict[str, Any]:
        config = self.code_signing_configs.get(arn)
        if config is None:
            raise config_not_found(arn)
        return config

    def check_code_signing_config(self, arn: str) -> None:
        """A function's CodeSigningConfigArn must name a configuration that exists."""
        if arn not in self.code_signing_configs:
            raise lambda_error("CodeSigningConfigNotFoundException", "The code signing configuration cannot be "
                               f"found. Check that the provided configuration is not deleted: {arn}.", 404)

    def CreateCodeSigningConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        csc_id = "csc-" + secrets.token_hex(9)[:17]
        arn = f"arn:aws:lambda:{self.region}:{self.account_id}:code-signing-config:{csc_id}"
        config = {
            "CodeSigningConfigId": csc_id, "CodeSigningConfigArn": arn,
            "Description": params.get("Description", ""),
            "AllowedPublishers": params["AllowedPublishers"],
            "CodeSigningPolicies": params.get("CodeSigningPolicies") or {"UntrustedArtifactOnDeployment": "Warn"},
            "LastModified": _timestamp(),
        }
        self.code_signing_configs[arn] = config
        self._save_csc(config)
        return {"CodeSigningConfig": dict(config)}

    def GetCodeSigningConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"CodeSigningConfig": dict(self._csc(params["CodeSigningConfigArn"]))}

    def UpdateCodeSigningConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        config = self._csc(params["CodeSigningConfigArn"])
        changed = False
        for key in ("Description", "AllowedPublishers", "CodeSigningPolicies"):
            if key in params and params[key] != config.get(key):
                config[key] = params[key]
                changed = True
        if changed:
            config["LastModified"] = _timestamp()
            self._save_csc(config)
        return {"CodeSigningConfig": dict(config)}

    def DeleteCodeSigningConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["CodeSigningConfigArn"]
        self._csc(arn)
        del self.code_signing_configs[arn]
        if self.state is not None:
            self.state.delete(STATE_KIND, arn)
        return {}

    def ListCodeSigningConfigs(self, params: dict[str, Any]) -> dict[str, Any]:
        return pagination.listing("CodeSigningConfigs", list(self.code_signing_configs.values()), params, 50, dict)

    def ListFunctionsByCodeSigningConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["CodeSigningConfigArn"]
        self._csc(arn)
        arns = [f.arn for f in self.functions if f.code_signing_config_arn == arn]
        return pagination.listing("FunctionArns", arns, params, 50)

    def PutFunctionCodeSigningConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        arn = params["CodeSigningConfigArn"]
        self.check_code_signing_config(arn)  # checked before the function (recorded)
        function = self.functions.get(params["FunctionName"])
        function.code_signing_config_arn = arn
        self.functions.saved(function)
        return {"CodeSigningConfigArn": arn, "FunctionName": function.name}

    def GetFunctionCodeSigningConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        function = self.functions.get(params["FunctionName"])
        if not function.code_signing_config_arn:
            return {}
        return {"CodeSigningConfigArn": function.code_signing_config_arn, "FunctionName": function.name}

    def DeleteFunctionCodeSigningConfig(self, params: dict[str, Any]) -> dict[str, Any]:
        function = self.functions.get(params["FunctionName"])
        function.code_signing_config_arn = None
        self.functions.saved(function)
        return {}
