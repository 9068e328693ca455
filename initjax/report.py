"""The reproductions page: one markdown file built from the runs' summaries.

:func:`build_report` collects run folders (``runs/<name>/`` as written by ``initjax run``) and
writes one page: a table with every reproduction's verdict and key numbers, then each run's
summary with its figures (downscaled copies next to the page). A run of an experiment that
follows the protocol of :mod:`initjax.sweeps.runtime` is read from its ``summary.json``
(:class:`initjax.sweeps.summary.Summary`); runs of experiments not yet converted are read from
their ``summary.md`` (:func:`parse_summary`). The command printed for each run is the one
recorded in its manifest, with its real ``--set`` overrides.

Runs whose folder has only a ``summary.md`` (written before ``summary.json`` existed) are read
through :func:`parse_summary`, with :func:`verdict_line` and :func:`run_line` for their verdict
and provenance lines.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shlex
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "REPRODUCTIONS",
    "VERDICTS",
    "ReproRun",
    "build_report",
    "cli_name",
    "find_run",
    "parse_summary",
    "read_run",
    "run_line",
    "shrink_png",
    "verdict_line",
]

# The paper reproductions, in publication order (file names of experiments/<name>.py).
REPRODUCTIONS = (
    "glorot2010",
    "saxe2014",
    "poole2016",
    "schoenholz2017_dropout",
    "pennington2017",
    "xiao2018",
    "hanin2018",
    "noci2022",
    "transformer_init_recipes",
)
VERDICTS = ("PASS", "PARTIAL", "FAIL")
MAX_PNG_BYTES = 200_000
MAX_PNG_WIDTH = 1400

_VERDICT_RE = re.compile(r"^\*\*Verdict:\s*(PASS|PARTIAL|FAIL)\*\*\s*(?:[—–-]+\s*)?(.*)$")


# --- summaries in markdown (runs written before summary.json existed) -----------------------


def verdict_line(status: str, reason: str) -> str:
    """``**Verdict: PASS** — reason`` (the one line :func:`parse_summary` reads).

    Raises:
      ValueError: ``status`` not one of PASS, PARTIAL, FAIL, or a reason spanning several lines.
    """
    from initjax.sweeps.summary import Verdict

    return Verdict(status, "", [], reason).line()


def run_line(run_dir: str | Path) -> str:
    """One line of provenance from ``manifest.json`` (command, preset, times, device, commit)."""
    from initjax.sweeps.runtime import provenance
    from initjax.sweeps.summary import provenance_line

    p = Path(run_dir) / "manifest.json"
    if not p.is_file():
        return "Run: no manifest.json (figures redrawn outside a run)."
    return provenance_line(provenance(json.loads(p.read_text())))


# --- reading side -----------------------------------------------------------------------------


def cli_name(name: str) -> str:
    """The name as ``initjax run`` lists it (``schoenholz2017_dropout`` -> with dashes)."""
    return name.strip().replace("_", "-")


def find_run(runs: str | Path, name: str) -> Path | None:
    """The run folder of ``name`` under ``runs`` (dashed or underscored spelling), or None."""
    runs = Path(runs)
    for cand in dict.fromkeys((cli_name(name), name, name.replace("-", "_"))):
        d = runs / cand
        if (d / "summary.json").is_file() or (d / "summary.md").is_file():
            return d
    return None


@dataclasses.dataclass
class ReproRun:
    """What the report needs from one run folder."""

    name: str
    run_dir: Path | None
    title: str = ""
    verdict: str | None = None  # PASS | PARTIAL | FAIL, None when not run or no verdict line
    reason: str = ""
    body: str = ""  # summary.md without its title line (earlier-form summaries)
    figures: list[Path] = dataclasses.field(default_factory=list)
    manifest: dict[str, Any] = dataclasses.field(default_factory=dict)
    problems: list[str] = dataclasses.field(default_factory=list)
    summary: Any = None  # initjax.sweeps.summary.Summary when read from summary.json


def parse_summary(text: str) -> dict[str, Any]:
    """Title, verdict, reason and body of an earlier-form summary.md.

    Returns:
      dict with ``title`` (after ``# <name>:``), ``verdict`` (None if absent), ``reason``,
      ``body`` (everything after the title line) and ``problems`` (convention violations: no
      title line, no verdict line, several verdict lines).
    """
    lines = text.splitlines()
    problems = []
    title = ""
    start = 0
    if lines and lines[0].startswith("# "):
        head = lines[0][2:].strip()
        title = head.split(":", 1)[1].strip() if ":" in head else head
        start = 1
    else:
        problems.append("summary.md does not start with '# <name>: <title>'")
    verdicts = [m for m in (_VERDICT_RE.match(ln.strip()) for ln in lines) if m]
    if not verdicts:
        problems.append("no '**Verdict: PASS|PARTIAL|FAIL** — reason' line")
    elif len(verdicts) > 1:
        problems.append(f"{len(verdicts)} verdict lines (exactly one expected)")
    verdict = verdicts[0].group(1) if verdicts else None
    reason = verdicts[0].group(2).strip() if verdicts else ""
    body = "\n".join(lines[start:]).strip("\n")
    return dict(title=title, verdict=verdict, reason=reason, body=body, problems=problems)


def read_run(runs: str | Path, name: str) -> ReproRun:
    """Collect one run folder (``run_dir`` None when it has not been run)."""
    from initjax.sweeps.summary import Summary

    run_dir = find_run(runs, name)
    if run_dir is None:
        return ReproRun(name=name, run_dir=None)
    manifest = {}
    if (run_dir / "manifest.json").is_file():
        manifest = json.loads((run_dir / "manifest.json").read_text())
    if (run_dir / "summary.json").is_file():
        s = Summary.read(run_dir)
        figs = [run_dir / f for f in s.figures if (run_dir / f).is_file()]
        missing = [f for f in s.figures if not (run_dir / f).is_file()]
        return ReproRun(
            name=name,
            run_dir=run_dir,
            title=s.title,
            verdict=s.verdict.status,
            reason=s.verdict.reason,
            figures=figs,
            manifest=manifest,
            problems=[f"figure {f} named in summary.json is missing" for f in missing],
            summary=s,
        )
    info = parse_summary((run_dir / "summary.md").read_text())
    return ReproRun(
        name=name,
        run_dir=run_dir,
        title=info["title"],
        verdict=info["verdict"],
        reason=info["reason"],
        body=info["body"],
        figures=_figure_order(run_dir, info["body"]),
        manifest=manifest,
        problems=info["problems"],
    )


def _figure_order(run_dir: Path, body: str) -> list[Path]:
    """The run's PNGs: those the summary names, in order of first mention, then the others."""
    pngs = {p.name: p for p in sorted(run_dir.glob("*.png"))}
    named = sorted((body.find(n), n) for n in pngs if n in body)
    order = [n for _, n in named] + [n for n in pngs if n not in body]
    return [pngs[n] for n in order]


def shrink_png(src: str | Path, dst: str | Path, max_bytes: int = MAX_PNG_BYTES) -> Path:
    """Copy a PNG, downscaling (and palette-quantizing) it until it is under ``max_bytes``.

    Images wider than ``MAX_PNG_WIDTH`` pixels are first resized to that width.

    Raises:
      ValueError: the image cannot be brought under ``max_bytes`` (even at 300 px wide).
    """
    from PIL import Image

    src, dst = Path(src), Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(src) as im:
        w, h = im.size
        if w <= MAX_PNG_WIDTH and src.stat().st_size <= max_bytes:
            shutil.copyfile(src, dst)
            return dst
        img = im.convert("RGB")
    width = min(w, MAX_PNG_WIDTH)
    while width >= 300:
        small = img.resize((width, max(1, round(h * width / w))), Image.LANCZOS)
        small.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(dst, optimize=True)
        if dst.stat().st_size <= max_bytes:
            return dst
        width = int(width * 0.8)
    raise ValueError(f"{src}: cannot shrink below {max_bytes} bytes")


def _demote(body: str) -> str:
    """Headings one level down (# -> ##) so a summary nests under its report section."""
    out = []
    fence = False
    for ln in body.splitlines():
        if ln.lstrip().startswith("```"):
            fence = not fence
        out.append("#" + ln if (not fence and re.match(r"^#{1,5} ", ln)) else ln)
    return "\n".join(out)


def _anchor(text: str) -> str:
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def _compute_time(m: dict[str, Any]) -> str:
    w = m.get("compute_s", m.get("wall_s"))
    return f"{w / 60:.1f} min" if isinstance(w, int | float) else "?"


def _leaves(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted path -> value of every leaf of a nested dict."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    out: dict[str, Any] = {}
    for k, v in tree.items():
        out.update(_leaves(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def _overrides_from_config(name: str, config: dict[str, Any]) -> list[str] | None:
    """``key=value`` overrides that turn the experiment's preset config into ``config``.

    The preset is the one recorded in ``config``; every leaf of ``config.compute`` and
    ``config.analysis`` that differs from the preset's value becomes one override (values as
    Python literals, as ``--set`` parses them). None when the experiment cannot be loaded or
    has a leaf the recorded config lacks.
    """
    from initjax.sweeps.config import load_experiment, resolve_config

    try:
        exp = load_experiment(name)
        preset = str(config.get("preset", "default"))
        base = resolve_config(exp, [("preset", preset)]).to_dict()
    except Exception:  # noqa: BLE001 - the experiment changed or is gone: say so instead
        return None
    got, want = _leaves(config), _leaves(base)
    if set(want) - set(got) - {"preset"}:
        return None
    sets = [] if preset == "default" else [f"preset={preset}"]
    for key in sorted(got):
        if key == "preset" or not key.startswith(("compute.", "analysis.")):
            continue
        if key not in want or json.dumps(got[key], default=str) != json.dumps(
            want[key], default=str
        ):
            sets.append(f"{key}={got[key]!r}")
    return sets


def _command(r: ReproRun) -> str:
    """The command recorded in the run's manifest, or one that reproduces its recorded config."""
    cmd = r.manifest.get("command")
    if cmd:
        return f"`{cmd}`"
    config = r.manifest.get("config") or {}
    sets = _overrides_from_config(r.name, config) if isinstance(config, dict) else None
    if sets is None:
        return (
            "none recorded (the run was started from Python, and its config in manifest.json "
            f"cannot be rebuilt from `initjax run {cli_name(r.name)}`'s current presets)"
        )
    parts = ["initjax", "run", cli_name(r.name)]
    for s in sets:
        parts += ["--set", s]
    return (
        f"`{shlex.join(parts)}` (rebuilt from the recorded config: the run was started from "
        "Python and its manifest records no command line)"
    )


def _discover(runs: Path, known: Iterable[str]) -> list[str]:
    """Run folders outside ``known`` whose summary has a verdict (other reproductions)."""
    seen = {cli_name(n) for n in known}
    extra = []
    if runs.is_dir():
        for d in sorted(p for p in runs.iterdir() if p.is_dir()):
            if cli_name(d.name) in seen:
                continue
            if (d / "summary.json").is_file():
                extra.append(d.name)
            elif (d / "summary.md").is_file():
                if parse_summary((d / "summary.md").read_text())["verdict"] is not None:
                    extra.append(d.name)
    return extra


def build_report(
    runs: str | Path = "runs",
    out: str | Path = "runs/REPRODUCTIONS.md",
    names: Sequence[str] | None = None,
) -> list[ReproRun]:
    """Write the page ``out`` (markdown) and ``<out folder>/reproductions/<name>_*.png``.

    Args:
      runs: folder holding the run folders (``runs/<name>/`` as written by ``initjax run``).
      out: the markdown file to write.
      names: experiments to include, in order; each must have a run folder under ``runs``.
        Default: :data:`REPRODUCTIONS` (those not run are listed as "not run" with the command
        that produces them) plus any other run folder with a verdict.

    Returns:
      the collected :class:`ReproRun` records (``run_dir`` None for reproductions not run).

    Raises:
      FileNotFoundError: ``runs`` is not a folder, or a name given in ``names`` has no run
        folder there.
      ValueError: ``names`` given but empty.
    """
    runs, out = Path(runs), Path(out)
    if not runs.is_dir():
        raise FileNotFoundError(f"runs folder {runs} does not exist")
    if names is not None:
        names = [n for n in names if n.strip()]
        if not names:
            raise ValueError("names must list at least one experiment")
        missing = [n for n in names if find_run(runs, n) is None]
        if missing:
            raise FileNotFoundError(
                f"no run folder with a summary under {runs} for: {', '.join(missing)} "
                f"(run them with `initjax run NAME --out {runs}/NAME`)"
            )
    else:
        names = [*REPRODUCTIONS, *_discover(runs, REPRODUCTIONS)]
    fig_dir = out.parent / "reproductions"
    records = [read_run(runs, n) for n in names]
    lines = [
        "# Paper reproductions",
        "",
        f"Generated by `initjax report` from the run folders in `{runs.as_posix()}/`. Every "
        "reproduction states its criterion before its numbers, puts measured, theory and "
        "published values side by side, lists the paper's claims it does not reproduce, and "
        "gives the command that produced it.",
        "",
        "| # | experiment | title | verdict | key numbers | compute |",
        "|---:|:---|:---|:---|:---|---:|",
    ]
    for i, r in enumerate(records, 1):
        cname = cli_name(r.name)
        if r.run_dir is None:
            lines.append(f"| {i} | {cname} | | not run | `initjax run {cname}` | |")
            continue
        verdict = f"**{r.verdict}**" if r.verdict else "no verdict"
        reason = r.reason.replace("|", "\\|")
        link = f"[{cname}](#{_anchor(f'{i}. {cname}: {r.title}')})"
        lines.append(
            f"| {i} | {link} | {r.title} | {verdict} | {reason} | {_compute_time(r.manifest)} |"
        )
    for i, r in enumerate(records, 1):
        cname = cli_name(r.name)
        lines += ["", "---", ""]
        if r.run_dir is None:
            lines += [
                f"## {i}. {cname}: not run",
                "",
                f"No run folder `{(runs / cname).as_posix()}/` with a summary. Run it with "
                f"`initjax run {cname}`, then `initjax report`.",
            ]
            continue
        lines += [
            f"## {i}. {cname}: {r.title}",
            "",
            f"Command: {_command(r)}. Redraw: `initjax plot {r.run_dir.as_posix()}`.",
            "",
        ]
        for p in r.problems:
            lines.append(f"> convention problem: {p}")
        for old in fig_dir.glob(f"{cname}_*.png"):
            old.unlink()
        copies = {fig.name: shrink_png(fig, fig_dir / f"{cname}_{fig.name}") for fig in r.figures}
        if r.summary is not None:
            body = r.summary.to_markdown(level=3, figure_prefix=f"reproductions/{cname}_")
            lines += [body.split("\n", 1)[1].strip(), ""]  # its title is the section heading
            continue
        if not re.search(r"^Run: ", r.body, flags=re.M):
            lines += [run_line(r.run_dir), ""]
        for name, dst in copies.items():
            rel = dst.relative_to(out.parent).as_posix()
            lines += [f"![{cname} {Path(name).stem}]({rel})", ""]
        lines += [_demote(r.body), ""]
    from initjax.sweeps.store import atomic_write_text

    atomic_write_text(out, "\n".join(lines).rstrip() + "\n")
    return records
