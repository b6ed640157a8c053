"""A dry run's answer, readable: whether it would publish, what it reaches, and how the rollout would go."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from iotcmd.output import console, print_rows, text_of

SHOWN_TARGETS = 10


def show(body: dict[str, Any]) -> None:
    problems = body.get("errors") or []
    if problems:
        console.print(f"[red]Would be refused[/red]: {len(problems)} problem(s)")
        print_rows(problems, ["field", "message"])
    else:
        console.print("[green]Would publish[/green]")
    targets = body.get("targets") or []
    count = body.get("targetCount", len(targets))
    more = f" and {count - SHOWN_TARGETS} more" if count > SHOWN_TARGETS else ""
    facts = Table(show_header=False, box=None, pad_edge=False)
    facts.add_column(style="bold")
    facts.add_column(overflow="fold")
    facts.add_row("things", f"{count}: {', '.join(targets[:SHOWN_TARGETS])}{more}")
    if body.get("unknownTargets"):
        facts.add_row("unknown targets", ", ".join(body["unknownTargets"]))
    facts.add_row("delivery", text_of(body.get("delivery")))
    rate = body.get("ratePerMinute")
    facts.add_row("rate", f"{rate} a minute" if rate else "no limit")
    waves = body.get("waves") or []
    if waves:
        facts.add_row("waves", ", ".join(f"{wave['percentage']}%: {wave['size']}" for wave in waves))
    facts.add_row("starts", body.get("startsAt") or "at once")
    facts.add_row("all started within", duration(body.get("estimatedDurationSeconds") or 0))
    facts.add_row("document", text_of(body.get("document")))
    console.print(facts)


def duration(seconds: float) -> str:
    """`1h 02m 05s`, `3m 30s`, `12s`."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"
