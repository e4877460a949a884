"""The Lambda API: LambdaService, made of one mixin per group of operations (plain dicts in and out).

Functions (functions_api), their updates (updates_api), concurrency and account settings
(concurrency_api), Invoke (invoke_api), and the siblings: versions, aliases, event invoke configs, event
source mappings, layers, tags, permissions, function URLs, code signing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lambda_emu.emulator.invocation.functions import FunctionRegistry
from lambda_emu.emulator.invocation.invoker import AsyncInvoke, Invoker
from lambda_emu.emulator.invocation.layers import LayerStore
from lambda_emu.emulator.invocation.pool import Environments
from lambda_emu.emulator.platform.clock import Clock
from lambda_emu.emulator.platform.errors import invalid_parameter
from lambda_emu.emulator.protocol.service import Service
from lambda_emu.emulator.services.lambda_.aliases_api import AliasesApi
from lambda_emu.emulator.services.lambda_.code_signing_api import CodeSigningApi
from lambda_emu.emulator.services.lambda_.concurrency_api import ConcurrencyApi
from lambda_emu.emulator.services.lambda_.destination_checks import DestinationChecks
from lambda_emu.emulator.services.lambda_.event_invoke_config import EventInvokeConfigApi
from lambda_emu.emulator.services.lambda_.function_checks import RUNTIME_ENUM, layer_runtimes_first, listed_runtimes
from lambda_emu.emulator.services.lambda_.function_urls_api import FunctionUrlsApi
from lambda_emu.emulator.services.lambda_.functions_api import FunctionHook, FunctionsApi
from lambda_emu.emulator.services.lambda_.invoke_api import InvokeApi
from lambda_emu.emulator.services.lambda_.layer_policies_api import LayerPoliciesApi
from lambda_emu.emulator.services.lambda_.layers_api import LayersApi
from lambda_emu.emulator.services.lambda_.lifecycle import Lifecycle
from lambda_emu.emulator.services.lambda_.mappings import MappingRegistry
from lambda_emu.emulator.services.lambda_.mappings_api import EventSourceMappingApi
from lambda_emu.emulator.services.lambda_.permissions_api import PermissionsApi
from lambda_emu.emulator.services.lambda_.provisioned_concurrency_api import ProvisionedConcurrencyApi
from lambda_emu.emulator.services.lambda_.tags_api import TagsApi
from lambda_emu.emulator.services.lambda_.updates_api import UpdatesApi
from lambda_emu.emulator.services.lambda_.versions_api import VersionsApi

if TYPE_CHECKING:
    # Types only: SQS's queues are imported on its first request, not at start-up.
    from lambda_emu.emulator.platform.state import StateStore
    from lambda_emu.emulator.services.sqs.queue import Queue

#: Model patterns that AWS's messages quote in other words (LocalStack's AWS-recorded snapshots, Nov 2025:
#: test_tag_exceptions, test_layer_exceptions): TagResource / UntagResource / ListTags' resource ARN, which
#: AWS words with ``layer:`` and without botocore's network connectors, and a layer version ARN, which AWS
#: words without botocore's outer group. Values are still checked against the model's pattern.
RECORDED_PATTERNS = {
    r"arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:(function:"
    r"[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|code-signing-config:csc-[a-z0-9]{17}|event-source-mapping:"
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|(capacity-provider|"
    r"network-connector):[a-zA-Z0-9-_]{1,64})":
    r"arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:(function:"
    r"[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|layer:([a-zA-Z0-9-_]+)|code-signing-config:csc-[a-z0-9]{17}|"
    r"event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|"
    r"capacity-provider:[a-zA-Z0-9-_]+)",
    r"((arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:layer:"
    r"[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+))":
    r"(arn:(aws[a-zA-Z-]*)?:lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:layer:"
    r"[a-zA-Z0-9-_]+:[0-9]+)|(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)",
}


def _as_recorded(problem: str) -> str:
    for model, recorded in RECORDED_PATTERNS.items():
        if model in problem:
            problem = problem.replace(f"pattern: {model}", f"pattern: {recorded}")
    return problem


class LambdaService(FunctionsApi, UpdatesApi, ConcurrencyApi, InvokeApi, EventInvokeConfigApi, EventSourceMappingApi,
                    LayersApi, TagsApi, PermissionsApi, VersionsApi, AliasesApi, FunctionUrlsApi, CodeSigningApi,
                    ProvisionedConcurrencyApi, LayerPoliciesApi, Service):
    service_name = "lambda"
    #: VpcConfig's ids are the elements AWS words without "Member must not be null" (recorded for
    #: vpcConfig.subnetIds / securityGroupIds; Layers and Architectures have it).
    nullable_elements = frozenset({"SubnetId", "SecurityGroupId"})

    def validation_error(self, problems: list[str]) -> Exception:
        """Lambda checks Runtime itself: a value outside the enum is its 400 InvalidParameterValueException
        "Value X at 'runtime' ... or be a valid ARN" (recorded), listing AWS's runtimes (``listed_runtimes``);
        Coral's other problems come first."""
        others = [_as_recorded(p) for p in problems if not RUNTIME_ENUM.match(p)]
        if others:
            return super().validation_error(layer_runtimes_first(others))
        value = RUNTIME_ENUM.match(problems[0])["value"]  # type: ignore[index]
        return invalid_parameter(f"Value {value} at 'runtime' failed to satisfy constraint: Member must satisfy enum "
                                 f"value set: [{', '.join(listed_runtimes())}] or be a valid ARN")

    def __init__(
        self,
        functions: FunctionRegistry,
        clock: Clock,
        invoker: Invoker,
        environments: Environments,
        async_invoke: AsyncInvoke,
        checks: DestinationChecks,
        mappings: MappingRegistry,
        *,
        queue_by_arn: Callable[[str], Queue | None],
        stream_exists: Callable[[str], bool],
        region: str,
        account_id: str,
        account_concurrency: int,
        endpoint: Callable[[], str],
        resolve_image: Callable[[str], str] | None = None,
        layers: LayerStore,
        creation_delays: bool = False,
        state: StateStore | None = None,
    ) -> None:
        self.functions = functions
        self.clock = clock
        self.invoker = invoker
        self.environments = environments
        self.async_invoke = async_invoke
        self.checks = checks
        self.mappings = mappings
        self.queue_by_arn = queue_by_arn
        self.stream_exists = stream_exists
        self.region = region
        self.account_id = account_id
        self.account_concurrency = account_concurrency
        self.endpoint = endpoint
        #: An image function's local image to its id (LookupError: no such image; OSError: no engine).
        self.resolve_image = resolve_image or _no_images
        self.layers = layers
        #: Pending → Active and InProgress → Successful, at once or (--creation-delays) on the clock.
        self.lifecycle = Lifecycle(clock, functions, environments, delays=creation_delays)
        self.code_signing_configs: dict[str, dict[str, Any]] = {}
        #: --state-dir (None without it): code signing configurations are written through.
        self.state = state
        #: Hooks the composition root wires (the async queue and the faults forget a deleted function;
        #: the async queue wakes when a function's concurrency changes).
        self.on_function_deleted: list[FunctionHook] = []
        self.on_concurrency_changed: list[FunctionHook] = []
        #: A function was created (API or template): the sandbox prepares its interpreter.
        self.on_function_created: list[FunctionHook] = []

    def _endpoint(self) -> str:
        return self.endpoint()


def _no_images(uri: str) -> str:
    raise OSError("container images need the container runner")

