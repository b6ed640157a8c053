"""Starting the local runtime with a setting it cannot start with: one line that names what to change, and a
non-zero exit, never a traceback. These checks come before anything starts, so each run takes about a second."""

from __future__ import annotations

import socket

import pytest

from tests.e2e.conftest import Runtime, ended, launch


def _refused(runtime: Runtime) -> str:
    code, output = ended(runtime, timeout=30)
    assert code != 0
    assert "Traceback" not in output
    return output.strip()


@pytest.mark.parametrize("variable", ["PORT", "AWS_PORT"])
def test_a_port_in_use_is_one_line_naming_the_variable_to_change(variable: str) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]

        runtime = launch({variable: str(busy)})

        assert _refused(runtime) == f"port {busy} is in use: set {variable} to another port"


def test_a_fleet_size_that_is_not_a_number_is_one_line_naming_it() -> None:
    runtime = launch({"FLEET_SIZE": "ten"})

    line = _refused(runtime)
    assert "\n" not in line
    assert line.startswith("FLEET_SIZE='ten': ")
    assert "integer" in line
