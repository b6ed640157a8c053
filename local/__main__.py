"""`make run`: the embedded AWS endpoint and the API, until Ctrl-C."""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

from commands_core.wiring import ROUTES
from local import aws
from local.api import Api, serve


def main() -> None:
    port = int(os.environ.get("PORT", "8080"))
    aws_port = int(os.environ.get("AWS_PORT", "4566"))
    os.environ.update(aws.environment(aws_port))
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # EMF lines on stdout are noise locally
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

    endpoint = aws.start_endpoint(aws_port)
    aws.create_resources(dict(os.environ))
    api = Api(ROUTES)
    api.preload()
    server = serve(port, api)
    print(f"AWS endpoint (moto) on http://127.0.0.1:{aws_port}", file=sys.stderr)
    print(f"API on http://127.0.0.1:{port} ({len(ROUTES)} routes); Ctrl-C stops", file=sys.stderr, flush=True)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        endpoint.stop()
        print("stopped", file=sys.stderr)


if __name__ == "__main__":
    main()
