"""`make run`: the embedded AWS endpoint, the API and the queue consumers, until Ctrl-C (or SIGTERM)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from local.iot_commands import IotCommands


def main() -> NoReturn:
    # First thing, before the imports (moto's take a while): a signal at any point of start-up stops the runtime
    # as one later does.
    stopping = _stop_on_signals()
    last: list[Callable[[], object]] = []  # after the output is silenced: what it might say no longer matters
    with contextlib.ExitStack() as running:
        try:
            _run(running, last)
        except KeyboardInterrupt:  # raised by the signal handler, out of whatever the runtime was doing
            pass
        finally:
            stopping.set()  # what has started is closing: a signal now would interrupt that, or hide an error
    _exit(last)


def _stop_on_signals() -> threading.Event:
    """Ctrl-C (SIGINT) and SIGTERM stop the runtime; once it is stopping, they change nothing."""
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        if stopping.is_set():
            return
        stopping.set()
        raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    return stopping


def _run(running: contextlib.ExitStack, last: list[Callable[[], object]]) -> None:
    """Starts everything, each part closed by `running` when it ends (or by `last`, at the very end), and serves
    the API until a signal."""
    from commands_core.wiring import CONSUMERS, ROUTES, functions
    from local import aws, fleet, moto_iot, openapi, queues, schedules, views
    from local.api import Api, serve
    from local.lambdas import Functions
    from local.rules import Broker

    port = int(os.environ.get("PORT", "8080"))
    aws_port = int(os.environ.get("AWS_PORT", "4566"))
    fleet_size = int(os.environ.get("FLEET_SIZE", "10"))
    request_timeout = float(os.environ.get("REQUEST_TIMEOUT_SECONDS", "10"))
    env = aws.environment(aws_port)
    os.environ.update(env)
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # EMF lines on stdout are noise locally
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

    broker: Broker | None = None
    iot_commands = aws.iot_commands(lambda topic, payload: broker.publish(topic, payload) if broker else [])
    endpoint = aws.start_endpoint(aws_port, iot_commands)
    running.callback(endpoint.shutdown)
    last.append(endpoint.close)  # calls still in flight when the runtime stops would fail on a closed database
    # The functions' and the fleet's calls to the emulators are answered in process, as in the tests: the same
    # answers without a socket, an HTTP server thread and two HTTP parsers per call (a fifth of a busy runtime's
    # time). Other clients (the AWS CLI, scripts) reach them through the endpoint.
    aws.answer_in_process(*endpoint.emulators)
    aws.create_resources(env)
    iot = aws.client("iot", env)
    things = fleet.create(iot, fleet_size)
    handlers = Functions(function.function for function in functions())
    handlers.preload()
    stop = threading.Event()
    running.callback(stop.set)  # before the endpoint goes: the consumers stop polling it first
    queues.start(CONSUMERS, env, handlers, stop)
    schedules.start(handlers, stop, every_seconds=float(os.environ.get("SCHEDULE_SECONDS", "30")))
    broker = Broker(env, iot_commands)
    api_key = os.environ.get("LOCAL_API_KEY") or None
    simulator = fleet.Simulator(
        iot,
        broker.publish,
        things,
        delay=float(os.environ.get("SIM_DELAY_SECONDS", "0.5")),
        slow=float(os.environ.get("SIM_SLOW_SECONDS", "10")),
        inbox=fleet.Inbox(f"http://127.0.0.1:{port}", api_key, env),
    )
    iot_commands.on_start(simulator.command_requested)
    moto_iot.on_new_executions(simulator.executions_created)
    moto_iot.on_registry_events(broker.publish)  # a thing added to a group: its event reaches the rules
    threading.Thread(target=simulator.run, args=(stop,), daemon=True, name="fleet").start()
    threading.Thread(target=_expire, args=(iot_commands, stop), daemon=True, name="command-timeouts").start()
    local_routes = views.routes(iot, broker.publish, endpoint.event_bridge)
    api = Api(ROUTES, handlers, local_routes, api_key=api_key, pages=openapi.pages())
    server = serve(port, api, request_timeout)
    running.callback(server.server_close)
    print(f"AWS endpoint (moto) on http://127.0.0.1:{aws_port}", file=sys.stderr)
    print(f"Simulated fleet: {len(things)} things in thing group '{fleet.GROUP}'", file=sys.stderr)
    print(
        f"API on http://127.0.0.1:{port} ({len(ROUTES)} routes), its document at /openapi.json and /docs",
        file=sys.stderr,
    )
    print("Ctrl-C stops", file=sys.stderr, flush=True)
    server.serve_forever()


def _exit(last: list[Callable[[], object]]) -> NoReturn:
    """Says `stopped`, as the last line, runs `last` and ends the process at once."""
    sys.stdout.flush()
    sys.stderr.flush()
    said = os.dup(sys.stderr.fileno())
    # Threads still finishing a request would print after `stopped`: from here on, what they print is dropped.
    silent = os.open(os.devnull, os.O_WRONLY)
    os.dup2(silent, sys.stdout.fileno())
    os.dup2(silent, sys.stderr.fileno())
    os.write(said, b"stopped\n")
    for step in last:
        with contextlib.suppress(Exception):
            step()
    # Not a return: the interpreter's teardown frees the heap object by object (more than 30 s with a large one,
    # such as a big simulated fleet in moto), and there is nothing left to do: the servers are closed, the output
    # written.
    os._exit(0)


def _expire(iot_commands: IotCommands, stop: threading.Event) -> None:
    """AWS IoT Commands times executions out on its own clock; the emulator does it once a second."""
    while not stop.wait(1):
        iot_commands.expire()


if __name__ == "__main__":
    main()
