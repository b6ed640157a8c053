"""The adapters the command services use, as one value: built once per container (dependencies.py), replaced
whole in tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from commands_core.adapters.commands import CommandRepository
    from commands_core.adapters.files import FileStore
    from commands_core.adapters.iot import IotJobs
    from commands_core.adapters.iot_commands import IotCommands
    from commands_core.adapters.queue import DispatchQueue
    from commands_core.models.lifecycle_events import LifecycleEvent
    from commands_core.services.targets import Registry
    from commands_core.services.templates import TemplateStore


class EventPublisher(Protocol):
    """Where lifecycle events go (adapters/event_bus.py): `put` collects one, `flush` sends what was collected.
    Neither raises: an event that cannot be sent is logged and counted, and the change it tells of stands."""

    def put(self, event: LifecycleEvent) -> None: ...

    def flush(self) -> None: ...


@dataclass(frozen=True)
class Ports:
    templates: TemplateStore
    commands: CommandRepository
    files: FileStore
    registry: Registry
    jobs: IotJobs
    iot_commands: IotCommands
    queue: DispatchQueue
    presign_role_arn: str
    events: EventPublisher
