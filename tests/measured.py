"""Figures the suite measures on its way (bounded by the tests' assertions), printed in
the terminal summary so that a run's log holds them: e.g. the largest server memory and
descriptor count seen under the pipelining floods, per model."""

from __future__ import annotations

FIGURES: dict[str, dict[str, str]] = {}


def record(section: str, key: str, value: str) -> None:
    FIGURES.setdefault(section, {})[key] = value


def summary_lines() -> list[str]:
    return [f"{section}: " + ", ".join(f"{key} {value}" for key, value in sorted(rows.items()))
            for section, rows in sorted(FIGURES.items())]
