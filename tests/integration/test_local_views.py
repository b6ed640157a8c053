"""What the local runtime shows of itself: its health, part by part, and its simulated fleet in pages."""

from __future__ import annotations

import socket
import threading
from typing import Any

from local import fleet, views
from local.calls import Calls
from local.eventbridge import EventBridge


def _view(iot: Any, things: list[str]) -> Any:
    health = views.Health(1, "http://127.0.0.1:1", {}, {}, len(things))
    event_bridge = EventBridge(account="123456789012", region="us-east-1")
    return views.overview(health, iot, things, event_bridge, Calls())["/_local/fleet"]


def test_the_fleet_lists_every_thing_with_its_behaviour_and_groups_page_by_page(iot: Any) -> None:
    names = fleet.create(iot, 7)
    iot.update_thing(thingName="sim-003", attributePayload={"attributes": {"simBehavior": "reject"}, "merge": True})
    iot.create_thing_group(thingGroupName="canary")
    iot.add_thing_to_thing_group(thingGroupName="canary", thingName="sim-005")
    listing = _view(iot, names)

    seen: list[dict[str, Any]] = []
    query: dict[str, str] = {"limit": "3"}
    while True:
        status, page = listing(query, "")
        assert status == 200
        assert len(page["things"]) <= 3
        seen += page["things"]
        if not page["nextToken"]:
            break
        query = {"limit": "3", "nextToken": page["nextToken"]}

    assert [thing["thingName"] for thing in seen] == names
    by_name = {thing["thingName"]: thing for thing in seen}
    assert by_name["sim-003"]["simBehavior"] == "reject"
    assert by_name["sim-001"]["simBehavior"] == "succeed"
    assert by_name["sim-005"]["thingGroups"] == ["canary", "simulated"]
    assert page["total"] == 7


def test_a_bad_limit_or_token_of_the_fleet_is_a_400_naming_it(iot: Any) -> None:
    listing = _view(iot, fleet.create(iot, 2))

    for limit in ("0", "x", "-1", "100000"):
        status, body = listing({"limit": limit}, "")
        assert (status, body["error"].split(":")[0]) == (400, "limit"), limit
    for token in ("x", "e30", ""):
        status, body = listing({"nextToken": token}, "")
        assert (status, body["error"].split(":")[0]) == (400, "nextToken"), token


def test_health_is_503_naming_each_part_that_is_down() -> None:
    stopped = threading.Thread(target=lambda: None, name="targets_join")
    stopped.start()
    stopped.join()
    running = threading.Event()
    alive = threading.Thread(target=running.wait, daemon=True)
    alive.start()
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}"
    try:
        health = views.Health(39, nowhere, {"targets_join": stopped}, {"fleet": alive}, 10)
        status, body = health.answer({}, "")
    finally:
        running.set()

    assert status == 503
    assert body["status"] == "down"
    assert body["down"] == ["awsEndpoint", "targets_join"]
    assert body["queueConsumers"] == {"targets_join": "stopped"}
    assert body["workers"] == {"fleet": "running"}
    assert body["fleet"] == {"things": 10, "thingGroup": "simulated"}
