"""Verdicts and summaries: the objects every experiment's report is built from.

A :class:`Verdict` is decided by a pure ``evaluate(table, config)``: its ``criterion`` is the
rule fixed in the config before the run (stated in words), its :class:`Check` rows hold the
measured value, the expected one, the standard error over seeds and the z-score, and exactly one
status (PASS, PARTIAL, FAIL) summarizes them; ``not_reproduced`` lists what the paper claims and
the experiment does not test.

A :class:`Summary` is the report of one run, in a fixed order: title, provenance (the real command
line with its overrides, commit, preset, wall and compute time), paper, setup, the criterion
*before* any number, the verdict and its checks, then the experiment's own tables (from pandas
DataFrames), figures and text, and finally the claims not reproduced. :meth:`Summary.write`
renders ``summary.md`` and the machine-readable ``summary.json`` (the same content as data);
``initjax report`` rebuilds its page from the JSON, never by parsing markdown.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["STATUSES", "Check", "Summary", "Verdict", "failed_reason", "provenance_line"]

STATUSES = ("PASS", "PARTIAL", "FAIL")
SCHEMA = 1


def _num(v: Any) -> Any:
    """JSON-safe scalar: numpy -> python, NaN/inf -> None."""
    if hasattr(v, "item") and getattr(v, "shape", None) == ():
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _fmt(v: Any, spec: str | None = None) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if not math.isfinite(v):
            return "n/a"
        return format(v, spec or ".4g")
    if isinstance(v, int) and spec:
        return format(v, spec)
    return str(v).replace("|", "\\|").replace("\n", " ")


@dataclasses.dataclass
class Check:
    """One judged (or reported) comparison.

    Attributes:
      name: what is compared, in words ("critical sigma_w2, width 512").
      measured: the measured value (a number, or a short string for counts and labels).
      expected: theory / published / threshold value, or None.
      se: standard error of ``measured`` over seeds (None when not applicable).
      z: (measured - expected) / se, or None.
      tolerance: the rule in words (``"|z| <= 3"``, ``">= 0.4"``).
      passed: True / False when judged; None when only reported (does not enter the status).
      note: anything a reader needs to interpret the row (units, sample size, caveats).
    """

    name: str
    measured: Any
    expected: Any = None
    se: float | None = None
    z: float | None = None
    tolerance: str = ""
    passed: bool | None = None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {k: _num(v) for k, v in dataclasses.asdict(self).items()}


@dataclasses.dataclass
class Verdict:
    """The one outcome of an experiment.

    Attributes:
      status: "PASS", "PARTIAL" or "FAIL".
      criterion: the pre-registered rule in words (read from the config, stated before numbers).
      checks: the comparisons behind the status.
      reason: one line with the key numbers.
      not_reproduced: claims of the paper this experiment does not test, one line each.

    Raises:
      ValueError: unknown status, or a reason that is empty or spans several lines.
    """

    status: str
    criterion: str
    checks: list[Check] = dataclasses.field(default_factory=list)
    reason: str = ""
    not_reproduced: list[str] = dataclasses.field(default_factory=list)

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {self.status!r}")
        self.reason = str(self.reason).strip()
        if not self.reason or "\n" in self.reason:
            raise ValueError("reason must be one non-empty line")

    @property
    def passed(self) -> bool:
        return self.status == "PASS"

    @classmethod
    def from_checks(
        cls,
        criterion: str,
        checks: Sequence[Check],
        *,
        reason: str,
        not_reproduced: Sequence[str] = (),
        partial: bool = False,
        secondary: Sequence[Check] = (),
    ) -> Verdict:
        """PASS when every judged check passed (and at least one was judged), else FAIL;
        ``partial=True`` turns a would-be PASS into PARTIAL (e.g. a claim that could not be
        tested at this scale). ``secondary``: checks among ``checks`` (the same objects) whose
        failure alone gives PARTIAL, not FAIL, provided at least one other judged check exists
        and every other judged check passed (e.g. a claim only reachable at the paper's scale)."""
        judged = [c for c in checks if c.passed is not None]
        minor = {id(c) for c in secondary}
        core = [c for c in judged if id(c) not in minor]
        if bool(judged) and all(c.passed for c in judged):
            status = "PARTIAL" if partial else "PASS"
        else:
            status = "PARTIAL" if minor and core and all(c.passed for c in core) else "FAIL"
        return cls(status, criterion, list(checks), reason, list(not_reproduced))

    def line(self) -> str:
        return f"**Verdict: {self.status}** — {self.reason}"

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "criterion": self.criterion,
            "reason": self.reason,
            "checks": [c.to_json() for c in self.checks],
            "not_reproduced": list(self.not_reproduced),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Verdict:
        return cls(
            d["status"],
            d.get("criterion", ""),
            [Check(**c) for c in d.get("checks", [])],
            d.get("reason", "") or "no reason recorded",
            list(d.get("not_reproduced", [])),
        )


def failed_reason(checks: Sequence[Check], shown: int = 5) -> str:
    """A verdict reason naming the failed checks: "all judged checks pass" when none failed
    (``passed`` False; unjudged checks do not count), else "<n> failed: " and the first
    ``shown`` names joined by "; "."""
    bad = [c.name for c in checks if c.passed is False]
    return f"{len(bad)} failed: {'; '.join(bad[:shown])}" if bad else "all judged checks pass"


def provenance_line(p: Mapping[str, Any]) -> str:
    """``Run: `command` · preset · commit · wall / compute time · device · finished``."""
    cmd = p.get("command") or "(called from Python)"
    commit = (p.get("git_commit") or "")[:10] or "unknown"
    wall, comp = p.get("wall_s"), p.get("compute_s")
    times = []
    if isinstance(wall, int | float):
        times.append(f"wall {wall:.1f} s")
    if isinstance(comp, int | float):
        times.append(f"compute {comp:.1f} s")
    dev = f"{p.get('device_count', '?')} x {p.get('device_kind', '?')}"
    return (
        f"Run: `{cmd}` · preset `{p.get('preset', 'default')}` · commit {commit} · "
        f"{', '.join(times) or 'time unknown'} (compute: sum over all pieces, also across "
        f"resumed runs) · {dev}, jax {p.get('jax', '?')} · finished {p.get('finished', '?')}."
    )


@dataclasses.dataclass
class Summary:
    """The report of one run; build with the methods, write with :meth:`write`.

    Attributes:
      name: experiment name as typed on the command line (``depth-sweep``).
      title: one-line title.
      paper: reference string of the paper (or "" for experiments of the suite's own).
      provenance: command, preset, git_commit, wall_s, compute_s, device, jax, finished.
      setup: what was run (sizes, seeds, data), in words.
      verdict: the :class:`Verdict`.
      blocks: tables, figures, text and headings in order (plain data).
    """

    name: str
    title: str
    paper: str
    provenance: dict[str, Any]
    setup: str
    verdict: Verdict
    blocks: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    # --- building --------------------------------------------------------------------------------
    def heading(self, text: str) -> Summary:
        self.blocks.append({"kind": "heading", "text": str(text)})
        return self

    def text(self, text: str) -> Summary:
        self.blocks.append({"kind": "text", "text": str(text).strip()})
        return self

    def table(
        self,
        frame,
        caption: str = "",
        *,
        formats: Mapping[str, str] | None = None,
        columns: Mapping[str, str] | None = None,
    ) -> Summary:
        """Add a pandas DataFrame as a table.

        Args:
          frame: the rows (index is dropped; reset it first to keep it).
          caption: one line printed above the table.
          formats: column -> format spec for numbers (default ``.4g``).
          columns: column -> header text (default the column name).
        """
        cols = [str(c) for c in frame.columns]
        rows = [[_num(v) for v in row] for row in frame.itertuples(index=False, name=None)]
        self.blocks.append(
            {
                "kind": "table",
                "caption": caption,
                "columns": cols,
                "headers": [dict(columns or {}).get(c, c) for c in cols],
                "formats": dict(formats or {}),
                "rows": rows,
            }
        )
        return self

    def figure(self, path: str | Path, caption: str = "") -> Summary:
        """Add a figure written into the run folder (stored by file name)."""
        self.blocks.append({"kind": "figure", "path": Path(path).name, "caption": caption})
        return self

    @property
    def figures(self) -> list[str]:
        return [b["path"] for b in self.blocks if b["kind"] == "figure"]

    # --- rendering -------------------------------------------------------------------------------
    def to_markdown(self, level: int = 1, *, figure_prefix: str = "") -> str:
        """The summary as markdown; headings start at ``level`` (1: ``#``)."""
        h = "#" * level
        lines = [f"{h} {self.name}: {self.title}", "", provenance_line(self.provenance), ""]
        if self.paper:
            lines += [f"Paper: {self.paper}", ""]
        lines += [f"{h}# Setup", "", self.setup, ""]
        lines += [f"{h}# Criterion (fixed in the config before the run)", ""]
        lines += [self.verdict.criterion, "", self.verdict.line(), ""]
        if self.verdict.checks:
            lines += _checks_table(self.verdict.checks) + [""]
        for b in self.blocks:
            if b["kind"] == "heading":
                lines += [f"{h}# {b['text']}", ""]
            elif b["kind"] == "text":
                lines += [b["text"], ""]
            elif b["kind"] == "figure":
                cap = f" {b['caption']}" if b["caption"] else ""
                lines += [
                    f"![{b['path']}]({figure_prefix}{b['path']})",
                    "",
                    f"*{b['path']}*{cap}",
                    "",
                ]
            elif b["kind"] == "table":
                lines += _table(b) + [""]
        lines += [f"{h}# Claims of the paper not reproduced here", ""]
        lines += [f"- {c}" for c in self.verdict.not_reproduced] or ["- none"]
        return "\n".join(lines).rstrip() + "\n"

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "name": self.name,
            "title": self.title,
            "paper": self.paper,
            "provenance": {k: _num(v) for k, v in self.provenance.items()},
            "setup": self.setup,
            "verdict": self.verdict.to_json(),
            "blocks": self.blocks,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Summary:
        return cls(
            name=d["name"],
            title=d.get("title", ""),
            paper=d.get("paper", ""),
            provenance=dict(d.get("provenance", {})),
            setup=d.get("setup", ""),
            verdict=Verdict.from_json(d["verdict"]),
            blocks=list(d.get("blocks", [])),
        )

    @classmethod
    def read(cls, run_dir: str | Path) -> Summary:
        """Load ``summary.json`` of a run folder.

        Raises:
          FileNotFoundError: no summary.json there.
        """
        p = Path(run_dir) / "summary.json"
        if not p.is_file():
            raise FileNotFoundError(f"{p} does not exist")
        return cls.from_json(json.loads(p.read_text()))

    def write(self, run_dir: str | Path) -> list[Path]:
        """Write ``summary.md`` and ``summary.json`` (atomically); returns their paths."""
        from initjax.sweeps.store import atomic_write_text

        run_dir = Path(run_dir)
        md = atomic_write_text(run_dir / "summary.md", self.to_markdown())
        js = atomic_write_text(
            run_dir / "summary.json", json.dumps(self.to_json(), indent=2, allow_nan=False)
        )
        return [md, js]


def _checks_table(checks: Sequence[Check]) -> list[str]:
    out = [
        "| check | measured | expected | SE | z | tolerance | result | note |",
        "|:---|---:|---:|---:|---:|:---|:---|:---|",
    ]
    for c in checks:
        res = "reported" if c.passed is None else ("pass" if c.passed else "**fail**")
        z = _fmt(c.z, ".2f") if c.z is not None else ""
        se = _fmt(c.se, ".2g") if c.se is not None else ""
        exp = _fmt(c.expected) if c.expected is not None else ""
        out.append(
            f"| {_fmt(c.name)} | {_fmt(c.measured)} | {exp} | {se} | {z} | "
            f"{_fmt(c.tolerance)} | {res} | {_fmt(c.note)} |"
        )
    return out


def _table(b: Mapping[str, Any]) -> list[str]:
    out = [b["caption"], ""] if b.get("caption") else []
    rows = b["rows"]
    numeric = [
        all(isinstance(r[i], int | float) or r[i] is None for r in rows) and rows != []
        for i in range(len(b["columns"]))
    ]
    out.append("| " + " | ".join(_fmt(h) for h in b["headers"]) + " |")
    out.append("|" + "|".join("---:" if n else ":---" for n in numeric) + "|")
    for r in rows:
        cells = [_fmt(v, b["formats"].get(c)) for c, v in zip(b["columns"], r, strict=True)]
        out.append("| " + " | ".join(cells) + " |")
    return out
