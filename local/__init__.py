"""The local runtime: the service on a laptop, with no AWS account (docs/architecture.md). Never shipped."""

import sys
from pathlib import Path

# Lambda puts the core layer's python/ on the path; so does the local runtime, wherever it is started from.
LAYER = Path(__file__).resolve().parent.parent / "layers" / "core" / "python"
if str(LAYER) not in sys.path:
    sys.path.insert(0, str(LAYER))


class CannotStart(Exception):
    """The runtime cannot start as set up (a bad value, a port in use): its message says what to change. Here, not
    in local.settings, so that catching it imports nothing (a signal during start-up stops the runtime cleanly)."""
