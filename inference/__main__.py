"""`python -m inference serve ...` / `python -m inference merge ...` (see `inference.cli`)."""

import sys

from inference.cli import main

sys.exit(main())
