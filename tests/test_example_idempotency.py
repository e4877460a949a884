"""examples/idempotency (issue 13): its tests pass with the fixed handler and fail with the naive one —
the duplicate charge under retries, duplicate delivery and lost responses — run as a user runs them."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ("pytester",)

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "idempotency"


@pytest.fixture
def run(pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir()
    monkeypatch.delenv("LAMBDA_EMU_ENDPOINT", raising=False)

    def run(handler: str) -> pytest.RunResult:
        monkeypatch.setenv("CHARGE_HANDLER", handler)
        return pytester.runpytest_subprocess(str(EXAMPLE), "-p", "no:cacheprovider", timeout=600)

    return run


def test_the_fixed_handler_passes(run) -> None:  # type: ignore[no-untyped-def]
    run("fixed").assert_outcomes(passed=3)


def test_the_naive_handler_charges_twice_and_fails(run) -> None:  # type: ignore[no-untyped-def]
    result = run("naive")
    result.assert_outcomes(failed=3)
    # The failures' own reports, before pytest's short summary (which, under CI=true, repeats each
    # assertion message in full instead of cutting it to one line).
    output = result.stdout.str().split("short test summary info")[0]
    # Each test fails on the charges (not on a setup problem), and shows its journal.
    assert output.count('>       assert charges(emu) == [{"customer": "cus_ada", "amount": 4200}]') == 3
    assert output.count("Left contains one more item: {'customer': 'cus_ada', 'amount': 4200}") == 2
    assert output.count("Left contains 2 more items") == 1  # the lost response: charged three times
    assert output.count("lambda-emu journal") == 3
