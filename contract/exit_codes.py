"""What the training process's exit code means. The CLI reads executions' outcomes through it.

ACA reports any non-zero exit as a failed execution; ftk tells a resumable one (75) apart by the
run's status file and the exit code. 75 is EX_TEMPFAIL from BSD's sysexits.h: "try again later".
"""

from __future__ import annotations

from enum import IntEnum


class TrainingExit(IntEnum):
    OK = 0  # the run succeeded: adapter saved
    FAILED = 1  # an error during training
    USER_ERROR = 2  # a bad config or dataset: fix the input, retrying will not help
    RESUMABLE = 75  # time budget reached or SIGTERM: a checkpoint was saved, resume continues
