"""LoggingConfig (issue 16): kept, echoed with AWS's defaults (recorded on AWS), and applied: the JSON
format reaches the runtime as AWS_LAMBDA_LOG_FORMAT / AWS_LAMBDA_LOG_LEVEL, platform lines become
platform.* JSON records filtered by SystemLogLevel, and LogGroup is where the output goes."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support import RunningServer, create_python_function, error_of, payload_of

HANDLER = '''
import logging
import os

logger = logging.getLogger()


def handler(event, context):
    print("plain print")
    logger.debug("a debug record")
    logger.info("an info record")
    return {k: os.environ.get(k) for k in ("AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL",
                                           "AWS_LAMBDA_LOG_GROUP_NAME")}
'''


@pytest.fixture(scope="module")
def logs(server: RunningServer) -> Any:
    return server.client("logs")


def logging_of(lam: Any, name: str) -> dict[str, str]:
    config: dict[str, str] = lam.get_function_configuration(FunctionName=name)["LoggingConfig"]
    return config


def test_logging_config_is_kept_and_echoed_with_aws_defaults(lam: Any) -> None:
    name = create_python_function(lam, "def handler(e, c):\n    return 1\n")
    group = f"/aws/lambda/{name}"
    assert logging_of(lam, name) == {"LogFormat": "Text", "LogGroup": group}
    updated = lam.update_function_configuration(FunctionName=name, LoggingConfig={"LogFormat": "JSON"})
    assert updated["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO",
                                        "LogGroup": group}
    lam.update_function_configuration(FunctionName=name, LoggingConfig={"ApplicationLogLevel": "DEBUG"})
    assert logging_of(lam, name) == {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "SystemLogLevel": "INFO",
                                     "LogGroup": group}
    lam.update_function_configuration(FunctionName=name, LoggingConfig={"LogFormat": "Text"})
    assert logging_of(lam, name) == {"LogFormat": "Text", "LogGroup": group}
    lam.update_function_configuration(FunctionName=name, LoggingConfig={"LogGroup": "cool_lambda"})
    assert logging_of(lam, name) == {"LogFormat": "Text", "LogGroup": "cool_lambda"}
    with pytest.raises(ClientError) as caught:
        lam.update_function_configuration(FunctionName=name, LoggingConfig={"SystemLogLevel": "DEBUG"})
    assert error_of(caught.value)[:3] == (
        400, "InvalidParameterValueException", 'LogLevel is not supported when LogFormat is set to "Text". Remove '
        'LogLevel from your request or change the LogFormat to "Json" and try again.')
    created = lam.get_function(FunctionName=create_python_function(
        lam, "def handler(e, c):\n    return 1\n", LoggingConfig={"LogFormat": "JSON", "SystemLogLevel": "WARN"}))
    assert created["Configuration"]["LoggingConfig"] == {
        "LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "WARN",
        "LogGroup": f"/aws/lambda/{created['Configuration']['FunctionName']}"}


def test_text_functions_get_no_log_format_variables(lam: Any) -> None:
    name = create_python_function(lam, HANDLER)
    assert payload_of(lam.invoke(FunctionName=name)) == {
        "AWS_LAMBDA_LOG_FORMAT": None, "AWS_LAMBDA_LOG_LEVEL": None, "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}"}


def test_json_format_reaches_the_runtime_and_the_platform_lines(lam: Any, logs: Any) -> None:
    name = create_python_function(lam, HANDLER, LoggingConfig={"LogFormat": "JSON", "LogGroup": "/custom/" + "grp"
                                                                + "-json"})
    response = lam.invoke(FunctionName=name, LogType="Tail")
    request_id = response["ResponseMetadata"]["RequestId"]
    assert payload_of(response) == {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO",
                                    "AWS_LAMBDA_LOG_GROUP_NAME": "/custom/grp-json"}
    tail = base64.b64decode(response["LogResult"]).decode().splitlines()
    events = logs.filter_log_events(logGroupName="/custom/grp-json")["events"]
    lines = [e["message"] for e in events]
    # The tail is the end of the same stream (in CloudWatch each line keeps its newline, and the runtime's
    # JSON record is one framed event, ending in the newline awslambdaric's JSON formatter writes).
    assert [line.removesuffix("\n") for line in lines[len(lines) - len(tail):]] == tail
    records = [json.loads(line) for line in lines if line.startswith("{")]
    kinds = [r.get("type") or r.get("level") for r in records]
    assert kinds == ["platform.initStart", "platform.start", "INFO", "platform.report"]
    init, start, info, report = records
    assert set(init) == {"time", "type", "record"}
    assert init["record"]["functionName"] == name and init["record"]["phase"] == "init"
    assert init["record"]["initializationType"] == "on-demand"
    assert start["record"] == {"requestId": request_id, "version": "$LATEST"}
    assert info["message"] == "an info record" and info["requestId"] == request_id
    assert report["record"]["requestId"] == request_id and report["record"]["status"] == "success"
    assert set(report["record"]["metrics"]) == {"durationMs", "billedDurationMs", "memorySizeMB", "maxMemoryUsedMB",
                                                "initDurationMs"}
    assert "plain print\n" in lines  # print() is not a logging record: it stays plain text
    assert not any("a debug record" in line for line in lines)  # ApplicationLogLevel INFO filters DEBUG
    assert not any(line.startswith(("START ", "END ", "REPORT ")) for line in lines)
    assert f"/aws/lambda/{name}" not in [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]


def test_system_log_level_filters_platform_records(lam: Any, logs: Any) -> None:
    quiet = create_python_function(lam, HANDLER, LoggingConfig={"LogFormat": "JSON", "SystemLogLevel": "WARN",
                                                                 "ApplicationLogLevel": "DEBUG"})
    lam.invoke(FunctionName=quiet)
    lines = [e["message"] for e in logs.filter_log_events(logGroupName=f"/aws/lambda/{quiet}")["events"]]
    assert not any('"type":"platform.' in line for line in lines)
    assert any("a debug record" in line for line in lines)
    chatty = create_python_function(lam, HANDLER, LoggingConfig={"LogFormat": "JSON", "SystemLogLevel": "DEBUG"})
    lam.invoke(FunctionName=chatty)
    kinds = [json.loads(e["message"]).get("type") for e in logs.filter_log_events(
        logGroupName=f"/aws/lambda/{chatty}", filterPattern='{ $.type = "platform.*" }')["events"]]
    assert kinds == ["platform.initStart", "platform.start", "platform.runtimeDone", "platform.report"]
