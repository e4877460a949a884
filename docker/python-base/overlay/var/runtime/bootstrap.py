"""The python runtime's start: the module search path Lambda's python images build, then AWS's
runtime interface client (awslambdaric, installed beside this file) on the handler.

Order, highest first: the function's code (LAMBDA_TASK_ROOT), then -- unless PYTHONPATH is set --
the layer directories under /opt/python and the image's own site-packages under /var/lang.
"""

import os
import site
import sys


def main() -> None:
    task_root = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    layer_dirs = [f"/opt/python/lib/{version}/site-packages", "/opt/python"]
    pythonpath_set = "PYTHONPATH" in os.environ
    if not pythonpath_set:
        for directory in [f"/var/lang/lib/{version}/site-packages"] + layer_dirs[::-1]:
            sys.path.insert(0, directory)
    sys.path.insert(0, task_root)
    site.addsitedir(task_root)
    if not pythonpath_set:
        for directory in layer_dirs:
            site.addsitedir(directory)
        # Child processes of the function find the runtime's packages.
        os.environ["PYTHONPATH"] = os.environ.get("LAMBDA_RUNTIME_DIR", "/var/runtime")
    from awslambdaric import __main__ as ric

    ric.main([task_root, os.environ["_HANDLER"]])


if __name__ == "__main__":
    main()
