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

from local import CannotStart

if TYPE_CHECKING:
    from local.iot_commands import IotCommands


def main() -> NoReturn:
    # First thing, before the imports (moto's take a while): a signal at any point of start-up stops the runtime
    # as one later does.
    stopping = _stop_on_signals()
    last: list[Callable[[], object]] = []  # after the output is silenced: what it might say no longer matters
    refused: str | None = None
    with contextlib.ExitStack() as running:
        try:
            _run(running, last)
        except KeyboardInterrupt:  # raised by the signal handler, out of whatever the runtime was doing
            pass
        except CannotStart as error:  # a setting to change: said in a line, without a traceback
            refused = str(error)
        finally:
            stopping.set()  # what has started is closing: a signal now would interrupt that, or hide an error
    _exit(last, refused)


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
    from local.settings import LocalSettings, check_functions_settings, check_ports, port_refused

    # Settings and ports are checked before the heavy imports: a mistake is said within a second.
    settings = LocalSettings.from_env()
    check_ports(settings)
    port, aws_port = settings.port, settings.aws_port
    # Before the imports: the functions' logger reads its level when it is made. What they do is a line each.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "INFO")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # EMF lines on stdout are noise locally

    from commands_core.adapters import aws as service_clients
    from commands_core.wiring import CONSUMERS, ROUTES, functions
    from local import aws, fleet, moto_iot, openapi, queues, schedules, views
    from local.api import Api, serve
    from local.calls import Calls
    from local.lambdas import Functions
    from local.rules import Broker

    env = aws.environment(aws_port)
    os.environ.update(env)
    check_functions_settings()

    broker: Broker | None = None
    iot_commands = aws.iot_commands(lambda topic, payload: broker.publish(topic, payload) if broker else [])
    # A device's update of its job execution over HTTPS publishes AWS IoT's event to the rules, as the fleet's does.
    jobs_data = aws.jobs_data(lambda topic, payload: broker.publish(topic, payload) if broker else [])
    endpoint = aws.start_endpoint(aws_port, iot_commands, jobs_data)
    running.callback(endpoint.shutdown)
    last.append(endpoint.close)  # calls still in flight when the runtime stops would fail on a closed database
    # The functions' and the fleet's calls to the emulators are answered in process, as in the tests: the same
    # answers without a socket, an HTTP server thread and two HTTP parsers per call (a fifth of a busy runtime's
    # time). Other clients (the AWS CLI, scripts) reach them through the endpoint.
    aws.answer_in_process(*endpoint.emulators)
    calls = Calls()
    calls.install(service_clients.session().events)
    aws.create_resources(env)
    iot = aws.client("iot", env)
    things = fleet.create(iot, settings.fleet_size)
    handlers = Functions(function.function for function in functions())
    handlers.preload()
    stop = threading.Event()
    running.callback(stop.set)  # before the endpoint goes: the consumers stop polling it first
    consumers = {thread.name: thread for thread in queues.start(CONSUMERS, env, handlers, stop)}
    broker = Broker(env, iot_commands)
    api_key = settings.local_api_key
    simulator = fleet.Simulator(
        iot,
        broker.publish,
        things,
        delay=settings.sim_delay_seconds,
        slow=settings.sim_slow_seconds,
        inbox=fleet.Inbox(f"http://127.0.0.1:{port}", api_key, env),
    )
    iot_commands.on_start(simulator.command_requested)
    moto_iot.on_new_executions(simulator.executions_created)
    moto_iot.on_registry_events(broker.publish)  # a thing added to a group: its event reaches the rules
    workers = {
        "schedules": schedules.start(handlers, stop, every_seconds=settings.schedule_seconds),
        "fleet": _started("fleet", simulator.run, stop),
        "command-timeouts": _started("command-timeouts", _expire, iot_commands, stop),
    }
    health = views.Health(len(ROUTES), f"http://127.0.0.1:{aws_port}", consumers, workers, len(things))
    api = Api(
        ROUTES,
        handlers,
        views.routes(iot, broker.publish),
        api_key=api_key,
        pages=openapi.pages(),
        views=views.overview(health, iot, things, endpoint.event_bridge, calls),
    )
    try:
        server = serve(port, api, settings.request_timeout_seconds)
    except OSError as error:  # taken since the check at start
        raise port_refused(error, port, "PORT") from None
    running.callback(server.server_close)
    _say_started(port, aws_port, len(ROUTES), len(things))
    server.serve_forever()


def _started(name: str, target: Callable[..., object], *args: object) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True, name=name)
    thread.start()
    return thread


def _say_started(port: int, aws_port: int, routes: int, things: int) -> None:
    from local.fleet import GROUP
    from local.views import LINKS

    print(f"AWS endpoint (moto) on http://127.0.0.1:{aws_port}", file=sys.stderr)
    print(f"Simulated fleet: {things} things in thing group '{GROUP}' (/_local/fleet)", file=sys.stderr)
    print(f"API on http://127.0.0.1:{port} ({routes} routes); what to open: http://127.0.0.1:{port}/", file=sys.stderr)
    print("  " + ", ".join(path for path, _ in LINKS), file=sys.stderr)  # what / links to
    print("Ctrl-C stops", file=sys.stderr, flush=True)


def _exit(last: list[Callable[[], object]], refused: str | None = None) -> NoReturn:
    """Says `stopped` (or why the runtime could not start, and exits 2), as the last line, runs `last` and ends the
    process at once."""
    sys.stdout.flush()
    sys.stderr.flush()
    said = os.dup(sys.stderr.fileno())
    # Threads still finishing a request would print after `stopped`: from here on, what they print is dropped.
    silent = os.open(os.devnull, os.O_WRONLY)
    os.dup2(silent, sys.stdout.fileno())
    os.dup2(silent, sys.stderr.fileno())
    os.write(said, f"{refused}\n".encode() if refused else b"stopped\n")
    for step in last:
        with contextlib.suppress(Exception):
            step()
    # Not a return: the interpreter's teardown frees the heap object by object (more than 30 s with a large one,
    # such as a big simulated fleet in moto), and there is nothing left to do: the servers are closed, the output
    # written.
    os._exit(2 if refused else 0)


def _expire(iot_commands: IotCommands, stop: threading.Event) -> None:
    """AWS IoT Commands times executions out on its own clock; the emulator does it once a second."""
    while not stop.wait(1):
        iot_commands.expire()


if __name__ == "__main__":
    main()
