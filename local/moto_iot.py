"""What the local AWS endpoint (moto 5.2) lacks for this service's use of AWS IoT, added to moto.

- ListThingsInThingGroup: moto ignores `recursive`, `maxResults` and `nextToken`; here they behave as in AWS
  (members of child groups with recursive=true, pages of at most maxResults with a continuation token).

Tests under moto's in-process mock and the local runtime install the same additions.
"""

from __future__ import annotations

from typing import Any

_installed = False


def install() -> None:
    global _installed  # noqa: PLW0603 - patch moto once per process
    if _installed:
        return
    from moto.core.responses import ActionResult
    from moto.iot.responses import IoTResponse

    def list_things_in_thing_group(self: Any) -> ActionResult:
        backend = self.iot_backend
        group = self._get_param("thingGroupName")
        groups = [group]
        if self._get_bool_param("recursive", False):
            groups += [child.thing_group_name for child in backend.list_thing_groups(group, None, True)]
        names = sorted({thing.thing_name for name in groups for thing in backend.list_things_in_thing_group(name)})
        start = int(self._get_param("nextToken") or 0)
        size = self._get_int_param("maxResults", 25)
        end = start + size
        return ActionResult({"things": names[start:end], "nextToken": str(end) if end < len(names) else None})

    IoTResponse.list_things_in_thing_group = list_things_in_thing_group  # type: ignore[method-assign]
    _installed = True
