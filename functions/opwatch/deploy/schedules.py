"""`[schedules]`: how often each check runs, on every cloud.

Both EventBridge Scheduler and Cloud Scheduler fire at most once a minute, so intervals are
whole minutes. The sequencer fast lane samples `sequencer_liveness` several times inside one
invocation (every `fast_lane_every` for the minute), so a halted sequencer is seen within a
few block times instead of within a minute.

```toml
[schedules]
default = "1m"
snapshot_freshness = "30m"
fast_lane = true
fast_lane_every = "5s"
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..checks import CheckFacts
from ..config import Config, ConfigError, parse_duration

# Each check declares how often it runs unless `[schedules]` says otherwise (`Check.every_minutes`).
DEFAULT_MINUTES: Mapping[str, int] = CheckFacts(lambda check: check.every_minutes)


@dataclass(frozen=True, slots=True)
class Schedules:
    minutes: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_MINUTES))
    fast_lane: bool = False
    fast_lane_every_s: float = 5.0

    def every(self, check_id: str) -> int:
        """Minutes between runs of a check."""
        return self.minutes.get(check_id, self.minutes.get("default", 1))

    def rate_expression(self, check_id: str) -> str:
        """`rate(N minute[s])`: the syntax EventBridge Scheduler accepts."""
        n = self.every(check_id)
        return f"rate({n} minute{'s' if n != 1 else ''})"

    def cron(self, check_id: str) -> str:
        """Unix cron, as Cloud Scheduler takes it."""
        n = self.every(check_id)
        return "* * * * *" if n == 1 else f"*/{n} * * * *" if 60 % n == 0 and n < 60 else f"0 */{n // 60} * * *"


def parse_section(table: Mapping[str, Any], where: str, config: Config) -> Schedules:
    from ..checks import CHECKS

    problems: list[str] = []
    known = {*CHECKS, "default", "fast_lane", "fast_lane_every"}
    minutes = dict(DEFAULT_MINUTES)
    fast_lane, every = False, 5.0
    for key, value in table.items():
        path = f"{where}.{key}"
        if key not in known:
            problems.append(f"{path}: unknown key (checks: {', '.join(sorted(CHECKS))})")
        elif key == "fast_lane":
            if not isinstance(value, bool):
                problems.append(f"{path}: expected true or false")
            else:
                fast_lane = value
        elif key == "fast_lane_every":
            try:
                every = parse_duration(value)
                if not 1.0 <= every <= 30.0:
                    problems.append(f"{path}: must be between 1s and 30s")
            except ValueError as exc:
                problems.append(f"{path}: {exc}")
        else:
            try:
                seconds = parse_duration(value)
            except ValueError as exc:
                problems.append(f"{path}: {exc}")
                continue
            if seconds < 60 or seconds % 60:
                problems.append(f"{path}: schedules run in whole minutes (at least 1m), got {value!r}")
            else:
                minutes[key] = int(seconds // 60)
    if "default" in minutes:
        for check_id in CHECKS:
            if check_id not in table:
                minutes[check_id] = minutes["default"]
    if problems:
        raise ConfigError(problems)
    return Schedules(minutes=minutes, fast_lane=fast_lane, fast_lane_every_s=every)
