"""lambda-emu's own structured log (structlog). Function output goes through emulator.logs instead.

structlog is imported on the first line logged, not at start-up: ``import structlog`` imports
``structlog.dev``, which imports rich (its tracebacks), ~0.1 s of CPU before the ready line that a
run logging nothing at its level never uses. Loggers are proxies that drop a call below the configured
level without importing anything, and hand every other call to structlog's own filtering logger,
configured as before.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

#: structlog's level numbers (those of the standard library's ``logging``) of the calls the proxy filters.
_LEVELS = {"debug": 10, "info": 20, "warning": 30, "warn": 30, "error": 40, "err": 40, "exception": 40,
           "critical": 50, "fatal": 50}

#: The run's settings: (level name, JSON lines?); None until ``configure`` (then the default, warning).
_settings: tuple[str, bool] | None = None
_min_level = _LEVELS["warning"]
#: Bumped by every ``configure``: a proxy resolved under older settings resolves again.
_generation = 0
#: The generation structlog was last configured for; -1: not yet.
_applied = -1


def configure(level: str = "info", json: bool = False) -> None:
    """The run's log settings, applied to structlog when it is first needed."""
    global _settings, _min_level, _generation
    _settings = (level, json)
    _min_level = _LEVELS[level.lower()]
    _generation += 1
    if "structlog" in sys.modules:
        # Already paid for (a test, a later configure): applied at once, as before.
        _apply()


def _apply() -> None:
    """Configure structlog with the settings (imports it)."""
    global _applied
    import logging

    import structlog

    explicit = _settings is not None
    level, json = _settings if _settings is not None else ("warning", False)
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    common: dict[str, Any] = {
        "wrapper_class": structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        "logger_factory": structlog.PrintLoggerFactory(file=sys.stderr),
        "cache_logger_on_first_use": True,
    }
    if explicit or not structlog.is_configured():
        structlog.configure(processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ], **common)
    else:
        # Nobody configured this process's log, but structlog was configured by someone else first (a
        # test's structlog.testing.capture_logs): keep their processors, filter at the default level.
        structlog.configure(**common)
    _applied = _generation


def _nop(*args: Any, **kwargs: Any) -> None:
    return None


class _Logger:
    """A module's logger: structlog's, assembled on the first call at or above the configured level."""

    __slots__ = ("_name", "_real", "_generation")

    def __init__(self, name: str) -> None:
        self._name = name
        self._real: Any = None
        self._generation = -1

    def __getattr__(self, method: str) -> Callable[..., Any]:
        level = _LEVELS.get(method)
        if level is not None and level < _min_level:
            return _nop
        if self._generation != _generation:
            if _applied != _generation:
                _apply()
            import structlog

            self._real = structlog.get_logger(self._name).bind()
            self._generation = _generation
        return getattr(self._real, method)  # type: ignore[no-any-return]


def get_logger(name: str) -> Any:
    return _Logger(name)
