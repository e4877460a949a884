"""Lambda API differences from AWS that AWS-recorded suites found (issue 14), against the real server."""

from __future__ import annotations

from typing import Any

from tests.support import create_python_function

SOURCE = "def handler(event, context):\n    return {}\n"


def test_tracing_config_active_is_kept_and_echoed(lam: Any) -> None:
    name = create_python_function(lam, SOURCE, TracingConfig={"Mode": "Active"})
    assert lam.get_function_configuration(FunctionName=name)["TracingConfig"] == {"Mode": "Active"}
    assert lam.get_function(FunctionName=name)["Configuration"]["TracingConfig"] == {"Mode": "Active"}
    updated = lam.update_function_configuration(FunctionName=name, TracingConfig={"Mode": "PassThrough"})
    assert updated["TracingConfig"] == {"Mode": "PassThrough"}
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    updated = lam.update_function_configuration(FunctionName=name, TracingConfig={"Mode": "Active"})
    assert updated["TracingConfig"] == {"Mode": "Active"}
    # Untouched by an unrelated update.
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    assert lam.update_function_configuration(FunctionName=name, Timeout=5)["TracingConfig"] == {"Mode": "Active"}
    plain = create_python_function(lam, SOURCE)
    assert lam.get_function_configuration(FunctionName=plain)["TracingConfig"] == {"Mode": "PassThrough"}
