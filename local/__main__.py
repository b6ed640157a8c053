"""`make run`: the embedded AWS endpoint, the API and the queue consumers, until Ctrl-C."""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType

from commands_core.wiring import CONSUMERS, ROUTES, functions
from local import aws, fleet, openapi, queues, schedules, views
from local.api import Api, serve
from local.iot_commands import IotCommands
from local.lambdas import Functions
from local.rules import Broker


def main() -> None:
    port = int(os.environ.get("PORT", "8080"))
    aws_port = int(os.environ.get("AWS_PORT", "4566"))
    fleet_size = int(os.environ.get("FLEET_SIZE", "10"))
    env = aws.environment(aws_port)
    os.environ.update(env)
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # EMF lines on stdout are noise locally
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

    broker: Broker | None = None
    iot_commands = aws.iot_commands(lambda topic, payload: broker.publish(topic, payload) if broker else [])
    endpoint = aws.start_endpoint(aws_port, iot_commands)
    aws.create_resources(env)
    iot = aws.client("iot", env)
    things = fleet.create(iot, fleet_size)
    handlers = Functions(function.function for function in functions())
    handlers.preload()
    stop = threading.Event()
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
    threading.Thread(target=simulator.run, args=(stop,), daemon=True, name="fleet").start()
    threading.Thread(target=_expire, args=(iot_commands, stop), daemon=True, name="command-timeouts").start()
    api = Api(ROUTES, handlers, views.routes(iot, broker.publish), api_key=api_key, pages=openapi.pages())
    server = serve(port, api)
    print(f"AWS endpoint (moto) on http://127.0.0.1:{aws_port}", file=sys.stderr)
    print(f"Simulated fleet: {len(things)} things in thing group '{fleet.GROUP}'", file=sys.stderr)
    print(
        f"API on http://127.0.0.1:{port} ({len(ROUTES)} routes), its document at /openapi.json and /docs",
        file=sys.stderr,
    )
    print("Ctrl-C stops", file=sys.stderr, flush=True)

    def shut_down(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, shut_down)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
        endpoint.shutdown()
        print("stopped", file=sys.stderr)


def _expire(iot_commands: IotCommands, stop: threading.Event) -> None:
    """AWS IoT Commands times executions out on its own clock; the emulator does it once a second."""
    while not stop.wait(1):
        iot_commands.expire()


if __name__ == "__main__":
    main()
