"""Loads the real handlers of lambdas/ as Lambda would, with the core layer importable."""

from __future__ import annotations

import importlib.util
import queue
import sys
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

ROOT = Path(__file__).resolve().parent.parent


@cache
def load(function: str, instance: int = 0) -> ModuleType:
    """lambdas/<function>/handler.py, imported once per instance under a name of its own (every handler file is
    handler.py); each instance has its own module state, as each Lambda instance has."""
    name = f"lambdas.{function}.handler" + (f"#{instance}" if instance else "")
    spec = importlib.util.spec_from_file_location(name, ROOT / "lambdas" / function / "handler.py")
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that Powertools reads."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "local"
    log_stream_name: str = "local"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


class Functions:
    """Invokes the service's functions by name. Like a Lambda instance, an instance of a function handles one
    event at a time (Powertools' resolver keeps the current event on its app object); with more than one
    instance, as many events of a function run at once, as when Lambda scales out."""

    def __init__(self, names: Iterable[str], instances: int = 1) -> None:
        _log_keys_per_thread()
        self._idle: dict[str, queue.SimpleQueue[int]] = {}
        for name in names:
            self._idle[name] = queue.SimpleQueue()
            for instance in range(instances):
                self._idle[name].put(instance)

    def preload(self) -> None:
        """Imports every handler now, so that a broken one stops the runtime at start, not at first call."""
        for name in self._idle:
            load(name)

    def invoke(self, name: str, event: dict[str, Any]) -> dict[str, Any]:
        instance = self._idle[name].get()  # waits for an idle instance
        try:
            response: dict[str, Any] = load(name, instance).lambda_handler(event, LambdaContext(name))
            return response
        finally:
            self._idle[name].put(instance)


class _KeysPerThread(LambdaPowertoolsFormatter):
    """The Powertools formatter with the keys it adds to each line (`log_format`, which `append_keys`,
    `remove_keys` and `clear_state` change) held per thread. Locally all functions share one process, hence one
    logger; in Lambda each function has a process of its own, so the keys of one invocation never reach the
    lines of another. Keeping them per thread gives the local runtime the same, as a thread runs one invocation
    at a time (a line logged from a thread a function starts itself carries none of its invocation's keys)."""

    _per_thread: threading.local

    @property
    def log_format(self) -> dict[str, Any]:
        keys: dict[str, Any] | None = getattr(self._per_thread, "keys", None)
        if keys is None:  # a thread that has set none yet starts as clear_state leaves the formatter
            keys = self._per_thread.keys = dict.fromkeys(self.log_record_order) | self.keys_combined
        return keys

    @log_format.setter
    def log_format(self, keys: dict[str, Any]) -> None:
        self._per_thread.keys = keys


_swapping = threading.Lock()


def _log_keys_per_thread() -> None:
    """Makes the service logger's formatter keep its keys per thread (once; the deployed code is unchanged)."""
    from commands_core.observability import logger  # imported when needed: the logger reads its level when made

    with _swapping:
        formatter = logger.registered_formatter
        if type(formatter) is not LambdaPowertoolsFormatter:
            return  # already per thread
        keys = formatter.__dict__.pop("log_format")
        formatter.__class__ = _KeysPerThread  # the same formatter, its settings kept: only where keys live changes
        per_thread = cast(_KeysPerThread, formatter)
        per_thread._per_thread = threading.local()
        per_thread.log_format = keys  # the thread that makes the change keeps the keys it had
