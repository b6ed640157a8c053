"""Powertools Logger and Metrics, set up once for every function.

Service name, namespace and log level come from the POWERTOOLS_* variables that the stack sets.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

SERVICE = "iot-commands"
NAMESPACE = "IoTCommands"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

_Event = TypeVar("_Event")
_Context = TypeVar("_Context")
_Result = TypeVar("_Result")


def publish_metrics(handler: Callable[[_Event, _Context], _Result]) -> Callable[[_Event, _Context], _Result]:
    """Publishes the metrics an invocation recorded when it ends, as Powertools' `metrics.log_metrics` does, and
    nothing when it recorded none: most invocations (a read, a 404) have nothing to count, and log_metrics would
    warn "No application metrics to publish" on each of them."""

    @functools.wraps(handler)
    def published(event: _Event, context: _Context) -> _Result:
        try:
            return handler(event, context)
        finally:
            if metrics.metric_set:
                metrics.flush_metrics()

    return published


def count_by(name: str, **dimensions: str) -> None:
    """Counts one `name` under `dimensions` (and the service), in a metric record of its own: `metrics` holds a
    single set of dimensions for every metric of an invocation, which a per-value dimension would split."""
    if is_metrics_disabled():  # as `metrics` does; single_metric alone would print regardless
        return
    with single_metric(
        name=name, unit=MetricUnit.Count, value=1, namespace=NAMESPACE, default_dimensions={"service": SERVICE}
    ) as metric:
        for key, value in dimensions.items():
            metric.add_dimension(name=key, value=value)


@contextmanager
def log_keys(**keys: Any) -> Iterator[None]:
    """Adds `keys` to every log line inside the block, and then puts back what they replaced (Powertools'
    append_context_keys would drop a key the request had before, such as a command_id from the path)."""
    current = logger.get_current_keys()
    replaced = {name: current[name] for name in keys if name in current}
    logger.append_keys(**keys)
    try:
        yield
    finally:
        logger.remove_keys([name for name in keys if name not in replaced])
        logger.append_keys(**replaced)
