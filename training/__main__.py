"""`python -m training --config FILE` trains; `python -m training validate --config FILE` checks."""

import time

STARTED_AT = time.monotonic()  # --deadline counts from here, before the heavy imports

if __name__ == "__main__":
    import sys

    from training.cli import run

    sys.exit(run(sys.argv[1:], started_at=STARTED_AT))
