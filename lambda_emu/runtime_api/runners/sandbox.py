"""What a python function's process sees: Lambda's sys.path, Lambda's runtime directory, nothing of ours.

Lambda's python bootstrap (``/var/runtime/bootstrap.py``) puts, first to last: the task root
(``/var/task``), the layers' ``/opt/python/lib/python3.X/site-packages`` and ``/opt/python``, then the
runtime directory ``/var/runtime`` (awslambdaric, boto3, botocore) and the standard library. Here the
task root is the function's code directory followed by its installed requirements (``sam build``
merges them into the task root), ``/opt`` is the function's merged layer folder, and the runtime
directory is built once per Python version in lambda-emu's cache (pinned packages below). The
interpreter starts with ``-S``: no site-packages of the interpreter (nor of lambda-emu's virtual
environment) is ever on the path, so ``import pydantic`` fails exactly as on AWS.
"""

from __future__ import annotations

from pathlib import Path

from lambda_emu.runtime_api.runners.interpreters import Interpreter
from lambda_emu.runtime_api.runners.packages import BUILDS, Builds, digest, install

#: What Lambda's python runtimes bundle in /var/runtime. AWS doesn't publish the boto3 version per
#: runtime (it changes with the region and the month), so one recent pair is pinned for every runtime;
#: awslambdaric 4.2 needs Python >= 3.10, 4.0.4 is the last for 3.9.
RUNTIME_REQUIREMENTS = (
    "awslambdaric==4.2.2; python_version >= '3.10'",
    "awslambdaric==4.0.4; python_version < '3.10'",
    "boto3==1.40.4",
    "botocore==1.40.4",
)

#: Lambda's bootstrap.py, reduced to what lambda-emu needs; it must run on every Python from 3.9 on.
#: sys.path[0] is '' (``-c``): it is replaced, as are the entries PYTHONPATH added.
BOOTSTRAP = """\
import os, sys
task_root = os.environ["LAMBDA_TASK_ROOT"]
runtime_dir = os.environ["LAMBDA_RUNTIME_DIR"]
extra = [p for p in os.environ.pop("_LAMBDA_EMU_SYS_PATH", "").split(os.pathsep) if p]
sys.path[:] = [task_root] + extra + [runtime_dir] + [p for p in sys.path if p and p != runtime_dir]
import site
for directory in [task_root] + extra:
    site.addsitedir(directory)
site.setquit(); site.setcopyright(); site.sethelper()
from awslambdaric.__main__ import main
main(["awslambdaric", os.environ["_HANDLER"]])
"""


def python_command(interpreter: Interpreter) -> list[str]:
    # -S: no site-packages; -u: unbuffered output (PYTHONUNBUFFERED may be the user's to set); -B: no
    # __pycache__ written into the code folder (Lambda's /var/task is read-only), which also keeps an
    # edit saved within the same second at the same size from running stale bytecode after a reload.
    return [str(interpreter.path), "-S", "-u", "-B", "-c", BOOTSTRAP]


def layer_paths(opt_dir: Path | None, minor: str) -> list[Path]:
    """Where Lambda's python runtime looks in /opt, highest precedence first."""
    if opt_dir is None:
        return []
    return [opt_dir / "python" / "lib" / f"python{minor}" / "site-packages", opt_dir / "python"]


class RuntimeDirectories:
    """The /var/runtime of each Python version, built once in the cache and reused by every run."""

    def __init__(self, cache_dir: Path, builds: Builds | None = None) -> None:
        self.root = cache_dir / "runtime"
        self.builds = builds or BUILDS

    def path(self, interpreter: Interpreter) -> Path:
        return self.root / f"python{interpreter.minor}-{digest(*RUNTIME_REQUIREMENTS)}"

    def ready(self, interpreter: Interpreter) -> bool:
        return self.path(interpreter).is_dir()

    async def ensure(self, interpreter: Interpreter) -> Path:
        target = self.path(interpreter)
        return await self.builds.ensure(target, lambda: install(interpreter, target, list(RUNTIME_REQUIREMENTS)))
