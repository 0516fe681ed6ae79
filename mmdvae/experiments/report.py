"""An experiment's report: its tables, figures and ``report.md``.

An experiment returns a ``Summary`` (measured numbers, verdicts, ``Table``s,
figures, notes); ``render_report`` writes it out as the Markdown the
reproduction page gathers, and ``save_figure`` writes each figure atomically.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from mmdvae import files

#: What each scale means, for the report's heading.
SCALE_WORDS = {
    "source": "trained as the source trained, or to the stated convergence rule",
    "short": "a shortened run of minutes, far below the source's training",
    "quick": "a run of seconds for the tests; most claims cannot be decided",
}
FIGURE_DIRECTORY = "figures"


@dataclasses.dataclass
class Table:
    """A table of the report: a title, column names and rows of values."""

    title: str
    columns: list
    rows: list
    note: str = ""


@dataclasses.dataclass
class Summary:
    """What an experiment returns to the runner.

    Attributes:
        results: the measured numbers (JSON-ready).
        verdicts: one ``Verdict`` per claim.
        tables: ``Table``s for the report.
        figures: file stem -> (matplotlib Figure, caption).
        notes: sentences for the report's notes.
    """

    results: dict
    verdicts: list
    tables: list = dataclasses.field(default_factory=list)
    figures: dict = dataclasses.field(default_factory=dict)
    notes: list = dataclasses.field(default_factory=list)


def stored_images(images) -> np.ndarray:
    """Images in [0, 1] as uint8 (a phase's arrays stay small enough to commit)."""
    return np.round(np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0) * 255.0).astype(
        np.uint8)


def shown_images(stored) -> np.ndarray:
    """The float32 images in [0, 1] of ``stored_images``'s uint8 array."""
    return np.asarray(stored, dtype=np.float32) / 255.0


def save_figure(path: Path, figure, dpi: int = 90) -> Path:
    """Writes ``figure`` as a PNG file atomically."""
    return files.write_figure(path, figure, dpi=dpi)


# === The report ===


def format_value(value) -> str:
    """A number with 4 significant digits, booleans as yes/no, anything else as text."""
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if not math.isfinite(value):
            return str(float(value))
        return f"{value:.4g}"
    return str(value)


def _cell(value) -> str:
    return format_value(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(columns, rows) -> list:
    lines = ["| " + " | ".join(_cell(column) for column in columns) + " |",
             "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return lines


def command(experiment_name: str, settings: dict) -> str:
    flags = f" --scale {settings['scale']}"
    flags += f" --seed {settings['seed']}" if settings["seed"] else ""
    return f"python -m mmdvae reproduce {experiment_name} --out DIR{flags}"


def render_report(experiment, settings: dict, summary: Summary,
                  seconds: float) -> str:
    """The text of ``report.md``: claims, measured tables, figures and notes."""
    sizes = ", ".join(f"{key}={value}" for key, value in settings["sizes"].items())
    lines = [
        f"# {experiment.title}", "",
        f"{experiment.source}.", "",
        f"- Command: `{command(experiment.name, settings)}`",
        f"- Scale: {settings['scale']} ({SCALE_WORDS[settings['scale']]})",
        f"- Sizes: {sizes}; seed {settings['seed']}",
        f"- Time: {seconds:.0f} s on this machine",
        "",
    ]
    if settings["quick"]:
        lines += [
            "> A quick run: sizes far below the source's. Claims marked *not decided: the "
            "quick size cannot decide it* cannot be judged at this size; their rule's "
            "outcome (in brackets) is for information only.", ""]
    claim_rows = [[verdict.claim.text, verdict.claim.source, verdict.claim.rule,
                   verdict.measured, verdict.reading] for verdict in summary.verdicts]
    lines += ["## The claims", ""]
    lines += markdown_table(["the paper's claim", "where", "rule", "this run measured",
                             "verdict"], claim_rows)
    lines.append("")
    if summary.tables:
        lines += ["## Measured", ""]
        for table in summary.tables:
            lines += [f"### {table.title}", ""]
            lines += markdown_table(table.columns, table.rows)
            lines += ["", table.note, ""] if table.note else [""]
    if summary.figures:
        lines += ["## Figures", ""]
        for stem, (_, caption) in summary.figures.items():
            lines += [f"![{stem}]({FIGURE_DIRECTORY}/{stem}.png)", "", caption, ""]
    if summary.notes:
        lines += ["## Notes", ""]
        lines += [f"- {note}" for note in summary.notes]
        lines.append("")
    return "\n".join(lines)
