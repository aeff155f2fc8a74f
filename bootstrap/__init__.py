"""Set-up that runs in the job's and the app's container before any dependency is installed.

Standard library only: the image holds Python and torch, nothing else. `python -m bootstrap env
LOCK` returns a folder of packages installed from the lock file `LOCK`, built once per lock on the
share and reused by every later execution and replica (`bootstrap.envs`). `python -m
bootstrap.refresh` (a developer's tool, needs `uv`) regenerates the locks from pyproject's extras.
"""
