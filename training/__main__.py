"""`python -m training --config FILE` trains; `python -m training validate --config FILE` checks."""

from training.clock import started_at

# The time budget counts from the container's start when the job recorded it, else from here,
# before the heavy imports (training.clock).
STARTED_AT = started_at()

if __name__ == "__main__":
    import sys

    from training.cli import run

    sys.exit(run(sys.argv[1:], started_at=STARTED_AT))
