"""LogType=Tail as recorded on AWS (docs/aws-behaviour.md §Logs): the runtime gets Lambda's telemetry log pipe,
so a multi-line error record is one record whose lines are joined by "\\n" (not awslambdaric's "\\r"
fallback for a plain stdout), and print() / logging output keeps its order."""

from __future__ import annotations

import base64
import re
from typing import Any

from tests.support import create_python_function

HANDLER = '''import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)


def handler(event, context):
    print("Lambda log message - print function")
    logger.info("Lambda log message - logging module")
    if event.get("fail"):
        raise Exception("Test exception (this is intentional)")
    print("after")
    logger.warning("two\\nlines")
    return {}
'''


def tail_lines(response: dict[str, Any]) -> list[str]:
    text = base64.b64decode(response["LogResult"]).decode()
    assert text.endswith("\n")
    return [line for line in text[:-1].split("\n") if not line.startswith("REPORT ")]


def test_tail_of_a_handler_error_is_aws_s_line_for_line(lam: Any) -> None:
    name = create_python_function(lam, HANDLER)
    lam.invoke(FunctionName=name, Payload=b"{}")  # warm: the tail below holds one invocation
    response = lam.invoke(FunctionName=name, Payload=b'{"fail": true}', LogType="Tail")
    request_id = response["ResponseMetadata"]["RequestId"]
    lines = tail_lines(response)
    assert "\r" not in "".join(lines)
    # The code's path is where lambda-emu keeps it (AWS: /var/task); its line numbers are this file's.
    lines = [re.sub(r'File "[^"]*/app\.py"', 'File "/var/task/app.py"', line) for line in lines]
    lines[2] = re.sub(r"\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t", "\tdate\t", lines[2])
    assert lines == [
        f"START RequestId: {request_id} Version: $LATEST",
        "Lambda log message - print function",
        f"[INFO]\tdate\t{request_id}\tLambda log message - logging module",
        "[ERROR] Exception: Test exception (this is intentional)",
        "Traceback (most recent call last):",
        "\u00a0\u00a0File \"/var/task/app.py\", line 11, in handler",
        "\u00a0\u00a0\u00a0\u00a0raise Exception(\"Test exception (this is intentional)\")",
        f"END RequestId: {request_id}",
    ]


def test_print_and_logging_keep_their_order(lam: Any) -> None:
    name = create_python_function(lam, HANDLER)
    response = lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    request_id = response["ResponseMetadata"]["RequestId"]
    lines = [line for line in tail_lines(response) if not line.startswith(("START ", "END "))]
    lines = [re.sub(r"\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t", "\tdate\t", line) for line in lines]
    assert lines == [
        "Lambda log message - print function",
        f"[INFO]\tdate\t{request_id}\tLambda log message - logging module",
        "after",
        f"[WARNING]\tdate\t{request_id}\ttwo",
        "lines",
    ]


def frame(message: bytes, kind: int = 0xA55A0017) -> bytes:
    import time

    return (kind.to_bytes(4, "big") + len(message).to_bytes(4, "big")
            + (time.time_ns() // 1000).to_bytes(8, "big") + message)


def test_frames_decode_across_any_split_and_text_passes_through() -> None:
    from lambda_emu.runtime_api.log_frames import FrameDecoder

    stream = b"plain\n" + frame(b"[ERROR] E: x\nTraceback") + b"price \xc2\xa5\n" + frame(b"[INFO]\tok\n", 0xA55A000F)
    expected = b"plain\n[ERROR] E: x\nTraceback\nprice \xc2\xa5\n[INFO]\tok\n"
    for cut in range(len(stream) + 1):
        decoder = FrameDecoder()
        assert decoder.feed(stream[:cut]) + decoder.feed(stream[cut:]) + decoder.flush() == expected
    one_by_one = FrameDecoder()
    assert b"".join(one_by_one.feed(stream[i:i + 1]) for i in range(len(stream))) == expected


def test_bytes_that_only_look_like_a_frame_are_text() -> None:
    from lambda_emu.runtime_api.log_frames import FrameDecoder

    # The magic followed by a length and a timestamp that can't be a frame's (not now): passed through.
    stray = b"\xa5\x5a\x00\x03" + (2**31).to_bytes(4, "big") + (5).to_bytes(8, "big") + b"tail\n"
    decoder = FrameDecoder()
    assert decoder.feed(stray) + decoder.flush() == stray


def test_a_cold_start_logs_init_start_before_start_but_not_in_the_tail(server: Any, lam: Any) -> None:
    # Recorded shapes §6.5: the log stream of a cold start opens with INIT_START (runtime version and
    # its ARN); §6.4: LogType=Tail of that invocation starts at START.
    name = create_python_function(lam, "print('init output')\n" + HANDLER)
    seen: list[bytes] = []
    server.emu.add_log_listener(lambda function, chunk: seen.append(chunk) if function == name else None)
    response = lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    arn = lam.get_function_configuration(FunctionName=name)["RuntimeVersionConfig"]["RuntimeVersionArn"]
    stream = b"".join(seen).decode()
    assert stream.startswith(f"INIT_START Runtime Version: python:3.12.v1\tRuntime Version ARN: {arn}\n")
    assert stream.index("init output\n") < stream.index("START RequestId:")
    assert not base64.b64decode(response["LogResult"]).decode().startswith("INIT_START")
    seen.clear()
    lam.invoke(FunctionName=name, Payload=b"{}")  # warm: no INIT_START
    assert b"".join(seen).startswith(b"START RequestId:")
