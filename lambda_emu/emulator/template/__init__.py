"""SAM / CloudFormation templates (``lambda-emu up --template``).

``yaml_tags.py`` parses a template, ``loader.py`` loads it in phases through a registry of resource
types; ``functions.py`` creates functions (through CreateFunction's path) and IAM roles,
``resources.py`` every other type. Both are imported here, so that any use of the package has the
whole registry (and the loader needs no import of its own registrants: no cycle).
"""

from lambda_emu.emulator.template import functions as _functions  # noqa: F401
from lambda_emu.emulator.template import resources as _resources  # noqa: F401
from lambda_emu.emulator.template import versions as _versions  # noqa: F401
