"""The one exit-code vocabulary: `ftk`, the trainer (`python -m training`), the inference server
(`python -m inference`, the vLLM launcher), bootstrap and the local runner all exit with these.

Users' CI scripts read these numbers: never renumber one. The CLI reads executions' outcomes
through them too: ACA reports any non-zero exit as a failed execution, and ftk tells a resumable
one (75) apart by the run's status file and the exit code. 75 is EX_TEMPFAIL from BSD's
sysexits.h ("try again later"); 127 and 130 are the shells' "command not found" and
"killed by SIGINT".
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # done: for training, the run succeeded and its adapter is saved
    FAILED = 1  # the work ran and failed (a crash in training, a failed execution or request)
    USAGE = 2  # bad flags, config, dataset, model or device choice: fix the input, then retry
    NOT_FOUND = 3  # a job, share, run, execution or stack output that does not exist (ftk)
    AUTH = 4  # missing or expired credentials, missing permissions (ftk)
    UNAVAILABLE = 5  # a service that did not answer: network, throttling beyond retries (ftk)
    RESUMABLE = 75  # training stopped at its deadline or on SIGTERM with a checkpoint: rerun
    NOT_STARTED = 127  # the local runner could not start the command at all
    INTERRUPTED = 130  # Ctrl-C
