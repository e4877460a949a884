"""SAM / CloudFormation templates (``lambda-emu up --template``).

The loader (``loader.py``) registers functions and IAM roles; every other resource type registers
itself in ``resources.py``, imported here so that any use of the package has the whole registry
(and the loader needs no import of its own registrants: no cycle).
"""

from lambda_emu.emulator.template import resources as _resources  # noqa: F401
