"""The container runner (``--runner docker``, and image functions under any runner), by responsibility:

- ``engine.py``: the docker SDK's client, connected once, and the one error when no engine answers;
- ``images.py``: which image runs a function, present or pulled, its own command, ``docker build``;
- ``spec.py``: what a container is made of (mounts, /tmp, memory, environment, command), pure;
- ``process.py``: a running container as a RuntimeProcess (output, exit status, memory cgroup);
- ``labels.py``: the labels every container carries and the removal of dead runs' containers;
- ``sweep.py``: that removal at any other start, through the Engine API without the SDK;
- ``runner.py``: DockerRunner, which puts them together behind the runner interface.

The docker SDK is imported only inside functions, and these modules only when containers are wanted
(``--runner docker``, an image function, a start looking for dead runs' containers), so ``lambda-emu up``
with the process runner never pays for it. Nothing is imported here: importing one module costs only
what it needs.
"""
