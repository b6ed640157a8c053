"""The exit statuses of `iotcmd`, one meaning each, so that a script or a pipeline can tell outcomes apart."""

from __future__ import annotations

OK = 0
API_ERROR = 1  # the API answered with an error status (its status and message are on stderr)
USAGE = 2  # a bad option or argument, or a file that cannot be read as JSON or YAML
UNREACHABLE = 3  # no answer from the API, or the stack's outputs or AWS credentials could not be read
NOT_ALL_SUCCEEDED = 4  # watch: the command ended, and some execution did not succeed
CANCELLED = 5  # watch: the command was cancelled or deleted
TIMED_OUT = 6  # watch: --timeout passed before the command ended

HELP = (
    "Exit statuses: 0 success; 1 the API answered an error; 2 bad usage or an unreadable file; "
    "3 the API or the stack could not be reached; watch only: 4 some execution did not succeed, "
    "5 the command was cancelled or deleted, 6 --timeout passed."
)
