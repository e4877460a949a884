"""Which Python runs a python3.X function: an interpreter of that very version, found and verified.

Candidates for 3.X, in order: ``--python 3.X=PATH``; ``python3.X`` on PATH; the versions pyenv and uv
manage; lambda-emu's own interpreter. Each candidate is *run* before it is trusted (a pyenv shim named
python3.12 sits on PATH and still fails when 3.12 is not the shell's pyenv version). With none of
3.X, the nearest version available runs the function, and that is reported (never silently).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

#: The Python versions Lambda offers (python3.9 ... python3.14).
LAMBDA_PYTHON_VERSIONS = ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14")
VERIFY_SECONDS = 10.0
_VERSION_RE = re.compile(r"^3\.\d+$")


@dataclass(frozen=True)
class Interpreter:
    path: Path
    version: str  # the full version it reports: 3.12.1

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])


@dataclass(frozen=True)
class Resolution:
    """The interpreter a runtime gets; ``exact`` False when it is a fallback of another version."""

    requested: str  # 3.12
    interpreter: Interpreter
    exact: bool

    def warning(self) -> str:
        """The fallback's warning (the terminal prefixes it with ``[FunctionName]``)."""
        wanted = self.requested
        return (f"python{wanted} requested, no {wanted} interpreter found: running on "
                f"{self.interpreter.version} (install python{wanted} or pass --python {wanted}=PATH)")


class InterpreterError(ValueError):
    """A --python setting that doesn't name a working interpreter of its version."""


def parse_python_options(values: list[str]) -> dict[str, Path]:
    """``--python 3.12=/path`` (repeatable) → {"3.12": Path}; a malformed value is the user's error."""
    explicit: dict[str, Path] = {}
    for value in values:
        version, sep, path = value.partition("=")
        if not sep or not _VERSION_RE.match(version) or not path:
            raise InterpreterError(f"--python takes VERSION=PATH (e.g. 3.12=/usr/bin/python3.12), not {value!r}")
        explicit[version] = Path(path).expanduser()
    return explicit


#: What each candidate reported, for the life of the process (a probe costs a process start; a pyenv
#: shim's, up to a second).
_PROBED: dict[str, str | None] = {}
_LOCK = threading.RLock()


def probe(path: Path | str) -> str | None:
    """The full version an interpreter reports when run (cached), or None when it does not run."""
    key = str(path)
    with _LOCK:
        if key not in _PROBED:
            _PROBED[key] = _run_probe(path)
        return _PROBED[key]


def _run_probe(path: Path | str) -> str | None:
    try:
        done = subprocess.run(
            [str(path), "-S", "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
            capture_output=True, text=True, timeout=VERIFY_SECONDS, stdin=subprocess.DEVNULL,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **_pyenv_env()},
        )
    except (OSError, subprocess.SubprocessError):
        return None
    text = done.stdout.strip()
    return text if done.returncode == 0 and re.fullmatch(r"3\.\d+\.\d+", text) else None


def _pyenv_env() -> dict[str, str]:
    # A shim consults PYENV_ROOT / PYENV_VERSION; keep them so a shim behaves as in the user's shell.
    return {k: v for k, v in os.environ.items() if k in ("PYENV_ROOT", "PYENV_VERSION", "HOME")}


def _own_interpreter() -> Path:
    """lambda-emu's own Python outside its virtual environment (the venv's packages must not show)."""
    base = getattr(sys, "_base_executable", None) or sys.executable
    return Path(base)


class Interpreters:
    """Finds, verifies and remembers one interpreter per Python version."""

    def __init__(self, explicit: dict[str, Path] | None = None) -> None:
        self.explicit = dict(explicit or {})
        self._found: dict[str, Interpreter | None] = {}
        self._resolved: dict[str, Resolution] = {}

    def check_explicit(self) -> None:
        """Verify every --python before serving: a wrong path is an error, never a silent fallback."""
        for version, path in self.explicit.items():
            reported = probe(path)
            if reported is None:
                raise InterpreterError(f"--python {version}={path}: does not run as a Python interpreter")
            if not (reported == version or reported.startswith(version + ".")):
                raise InterpreterError(f"--python {version}={path}: is Python {reported}, not {version}")
            self._found[version] = Interpreter(path, reported)

    def find(self, version: str) -> Interpreter | None:
        """A working interpreter of exactly ``version`` (3.X), or None."""
        with _LOCK:
            if version not in self._found:
                self._found[version] = self._search(version)
            return self._found[version]

    def discover(self) -> None:
        """Find every version now (from a thread at start-up, so no request waits for the probes)."""
        for version in LAMBDA_PYTHON_VERSIONS:
            self.find(version)

    def _search(self, version: str) -> Interpreter | None:
        for candidate in self._candidates(version):
            reported = probe(candidate)
            if reported is not None and reported.startswith(version + "."):
                return Interpreter(candidate, reported)
        return None

    def _candidates(self, version: str) -> list[Path]:
        found: list[Path] = []
        if version in self.explicit:
            found.append(self.explicit[version])
        on_path = shutil.which(f"python{version}")
        # A pyenv shim answers only for the shell's pyenv versions (and slowly): the versions pyenv
        # manages are tried before it.
        shim = on_path is not None and "/shims/" in on_path
        if on_path and not shim:
            found.append(Path(on_path))
        pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
        found += sorted(pyenv_root.glob(f"versions/{version}.*/bin/python{version}"), key=_patch_order, reverse=True)
        uv_root = Path(os.environ.get("UV_PYTHON_INSTALL_DIR") or Path.home() / ".local/share/uv/python")
        found += sorted(uv_root.glob(f"cpython-{version}.*/bin/python{version}"), key=_patch_order, reverse=True)
        if on_path and shim:
            found.append(Path(on_path))
        if f"{sys.version_info[0]}.{sys.version_info[1]}" == version:
            found.append(_own_interpreter())
        return found

    def available(self) -> list[Interpreter]:
        return [i for v in LAMBDA_PYTHON_VERSIONS if (i := self.find(v)) is not None]

    def for_runtime(self, runtime: str) -> Resolution | None:
        """The interpreter of a pythonX.Y runtime (None for any other runtime)."""
        if not runtime.startswith("python3."):
            return None
        with _LOCK:
            return self._resolve(runtime)

    def _resolve(self, runtime: str) -> Resolution:
        cached = self._resolved.get(runtime)
        if cached is not None:
            return cached
        version = runtime.removeprefix("python")
        exact = self.find(version)
        if exact is not None:
            resolution = Resolution(version, exact, True)
        else:
            resolution = Resolution(version, self._nearest(version), False)
        self._resolved[runtime] = resolution
        return resolution

    def _nearest(self, version: str) -> Interpreter:
        wanted = int(version.split(".")[1])
        candidates = self.available()
        if not candidates:
            own = _own_interpreter()
            return Interpreter(own, ".".join(str(n) for n in sys.version_info[:3]))
        # Nearest minor version; on a tie the newer one (it runs the older syntax, the reverse may not).
        return min(candidates, key=lambda i: (abs(int(i.minor.split(".")[1]) - wanted),
                                              -int(i.minor.split(".")[1])))


def _patch_order(path: Path) -> tuple[int, ...]:
    match = re.search(r"3\.(\d+)\.(\d+)", str(path))
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)
