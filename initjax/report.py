"""Paper reproductions: the run scaffold they share and the ``docs/REPRODUCTIONS.md`` builder.

A reproduction is an experiment ``experiments/<name>.py`` (``initjax run <name>``) whose run folder
(default ``runs/<name>/``) holds figures (PNG), ``manifest.json`` and a ``summary.md`` that

- starts with ``# <name>: <title>``;
- puts measured, theory and published values side by side in a markdown table;
- states the experiment's explicit criterion and how the default preset is scaled down;
- has exactly one verdict line ``**Verdict: PASS** — <reason with the key numbers>`` (or FAIL /
  PARTIAL), written with :func:`verdict_line`.

Writing side: :func:`run_pieces` runs an experiment's independent pieces of work through
:class:`initjax.sweeps.store.RunStore` (each piece written atomically when it finishes, so a rerun
resumes), :func:`verdict_line` and :func:`run_line` format the summary's fixed lines.

Reading side: :func:`build_report` collects the run folders of the reproductions and writes
``docs/REPRODUCTIONS.md`` plus downscaled copies of the figures (``docs/reproductions/*.png``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "REPRODUCTIONS",
    "VERDICTS",
    "Piece",
    "ReproRun",
    "build_report",
    "cli_name",
    "find_run",
    "parse_summary",
    "read_run",
    "run_line",
    "run_pieces",
    "shrink_png",
    "verdict_line",
]

# The gallery of issue 8, in the order of the issue (file names of experiments/<name>.py).
REPRODUCTIONS = (
    "glorot2010",
    "saxe2014",
    "poole2016",
    "schoenholz2017_dropout",
    "pennington2017",
    "xiao2018",
    "hanin2018",
)
VERDICTS = ("PASS", "PARTIAL", "FAIL")
MAX_PNG_BYTES = 200_000
MAX_PNG_WIDTH = 1400

_VERDICT_RE = re.compile(r"^\*\*Verdict:\s*(PASS|PARTIAL|FAIL)\*\*\s*(?:[—–-]+\s*)?(.*)$")


# --- writing side -----------------------------------------------------------------------------


def verdict_line(status: str, reason: str) -> str:
    """``**Verdict: PASS** — reason`` (the one line :func:`parse_summary` reads).

    Raises:
      ValueError: ``status`` not one of PASS, PARTIAL, FAIL, or a reason spanning several lines.
    """
    if status not in VERDICTS:
        raise ValueError(f"status must be one of {', '.join(VERDICTS)}, got {status!r}")
    reason = str(reason).strip()
    if not reason or "\n" in reason:
        raise ValueError("reason must be one non-empty line")
    return f"**Verdict: {status}** — {reason}"


def run_line(run_dir: str | Path) -> str:
    """One line of provenance from ``manifest.json``: preset, wall time, device, jax, commit."""
    p = Path(run_dir) / "manifest.json"
    if not p.is_file():
        return "Run: no manifest.json (figures redrawn outside a run)."
    m = json.loads(p.read_text())
    env = m.get("environment", {})
    cfg = m.get("config", {})
    wall = m.get("compute_s", m.get("wall_s"))
    wall_s = f"{wall:.0f} s" if isinstance(wall, int | float) else "?"
    commit = (env.get("git_commit") or "")[:10] or "?"
    return (
        f"Run: preset `{cfg.get('preset', '?')}`, compute {wall_s} on {env.get('device_count')} x "
        f"{env.get('device_kind')} (jax {env.get('jax')}, initjax commit {commit}), finished "
        f"{m.get('finished', '?')}."
    )


@dataclasses.dataclass(frozen=True)
class Piece:
    """One independent, resumable piece of a reproduction's work.

    Attributes:
      label: short name (part of the stored group id; letters, digits, ``-``, ``_``, ``.``).
      compute: ``() -> pandas.DataFrame``, the piece's rows (a ``piece`` column is added).
      spec: what determines the piece's numbers besides the config (hashed into the group id).
    """

    label: str
    compute: Callable[[], Any]
    spec: Any = None


def _group_id(label: str, config: Any, spec: Any) -> str:
    blob = json.dumps([_plain(config), _plain(spec)], sort_keys=True, default=str)
    return f"{label}-{hashlib.sha1(blob.encode()).hexdigest()[:10]}"


def _plain(x: Any) -> Any:
    if hasattr(x, "to_dict"):
        x = x.to_dict()
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items() if k != "preset"}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    return x


def run_pieces(
    name: str,
    experiment_path: str | Path,
    config: Any,
    out: str | Path,
    pieces: Sequence[Piece],
    *,
    analyze: Callable[[Path, Any, Any], None] | None = None,
    progress: bool = True,
    log: Callable[[str], Any] = print,
):
    """Run (or resume) ``pieces`` into the run folder ``out``; return the assembled table.

    Each piece is a RunStore group whose id hashes the config (without ``preset``) and the piece's
    spec, so a rerun with the same config skips finished pieces and a changed config recomputes.
    The manifest records the config, environment, per-piece wall time and ``compute_s`` (their
    sum: the cost of the whole run even when it was resumed). ``analyze(out, table, config)``
    runs at the end.

    Raises:
      ValueError: duplicate piece labels.
      KeyboardInterrupt: re-raised after reporting how many pieces are saved.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    from initjax.sweeps.store import RunStore, environment, now

    labels = [p.label for p in pieces]
    if len(set(labels)) != len(labels):
        raise ValueError(f"piece labels must be unique, got {labels}")
    store = RunStore(out)
    ids = [_group_id(p.label, config, p.spec) for p in pieces]
    started = now()
    t0 = time.perf_counter()
    manifest: dict[str, Any] = {
        "experiment": name,
        "experiment_path": str(experiment_path),
        "status": "running",
        "started": started,
        "config": config.to_dict() if hasattr(config, "to_dict") else dict(config),
        "environment": environment(),
        "groups": [{"id": g, "label": p.label} for g, p in zip(ids, pieces, strict=True)],
    }
    store.write_manifest(manifest)
    todo = [(g, p) for g, p in zip(ids, pieces, strict=True) if not store.is_done(g)]
    if len(todo) < len(pieces):
        log(f"resuming: {len(pieces) - len(todo)} of {len(pieces)} pieces already in {out}")
    try:
        with tqdm(
            total=len(pieces), initial=len(pieces) - len(todo), desc=name, disable=not progress
        ) as bar:
            for gid, piece in todo:
                bar.set_description(f"{name}: {piece.label}")
                t = time.perf_counter()
                frame = pd.DataFrame(piece.compute())
                frame.insert(0, "piece", piece.label)
                wall = time.perf_counter() - t
                meta = {"label": piece.label, "spec": piece.spec, "wall_s": wall, "done": now()}
                store.write_group(gid, frame, meta)
                bar.update(1)
    except KeyboardInterrupt:
        done = sum(store.is_done(g) for g in ids)
        log(f"interrupted: {done} of {len(pieces)} pieces saved in {out}; rerun to resume")
        raise
    table = store.assemble(ids)
    walls = {g: store.group_meta(g).get("wall_s") for g in ids}
    manifest.update(
        status="complete",
        finished=now(),
        wall_s=time.perf_counter() - t0,
        compute_s=float(sum(w for w in walls.values() if w is not None)),
        group_wall_s=walls,
    )
    store.write_manifest(manifest)
    log(f"{name}: {len(pieces)} pieces, {len(table)} rows, {manifest['compute_s']:.1f} s -> {out}")
    if analyze is not None:
        analyze(Path(out), table, config)
    return table


# --- reading side -----------------------------------------------------------------------------


def cli_name(name: str) -> str:
    """The name as ``initjax run`` lists it (``schoenholz2017_dropout`` -> with dashes)."""
    return name.strip().replace("_", "-")


def find_run(runs: str | Path, name: str) -> Path | None:
    """The run folder of ``name`` under ``runs`` (dashed or underscored spelling), or None."""
    runs = Path(runs)
    for cand in dict.fromkeys((cli_name(name), name, name.replace("-", "_"))):
        if (runs / cand / "summary.md").is_file():
            return runs / cand
    return None


@dataclasses.dataclass
class ReproRun:
    """What the report needs from one run folder."""

    name: str
    run_dir: Path | None
    title: str = ""
    verdict: str | None = None  # PASS | PARTIAL | FAIL, None when not run or no verdict line
    reason: str = ""
    body: str = ""  # summary.md without its title line
    figures: list[Path] = dataclasses.field(default_factory=list)
    manifest: dict[str, Any] = dataclasses.field(default_factory=dict)
    problems: list[str] = dataclasses.field(default_factory=list)


def parse_summary(text: str) -> dict[str, Any]:
    """Title, verdict, reason and body of a reproduction's summary.md.

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
    """Collect one reproduction's run folder (``run_dir`` None when it has not been run)."""
    run_dir = find_run(runs, name)
    if run_dir is None:
        return ReproRun(name=name, run_dir=None)
    info = parse_summary((run_dir / "summary.md").read_text())
    manifest = {}
    if (run_dir / "manifest.json").is_file():
        manifest = json.loads((run_dir / "manifest.json").read_text())
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
    a = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
    return a


def _wall(m: dict[str, Any]) -> str:
    w = m.get("compute_s", m.get("wall_s"))
    return f"{w / 60:.1f} min" if isinstance(w, int | float) else "?"


def _discover(runs: Path, known: Iterable[str]) -> list[str]:
    """Run folders outside ``known`` whose summary.md has a verdict line (other reproductions)."""
    seen = {cli_name(n) for n in known}
    extra = []
    if runs.is_dir():
        for d in sorted(p for p in runs.iterdir() if p.is_dir()):
            s = d / "summary.md"
            if cli_name(d.name) in seen or not s.is_file():
                continue
            if parse_summary(s.read_text())["verdict"] is not None:
                extra.append(d.name)
    return extra


def build_report(
    runs: str | Path = "runs",
    out: str | Path = "docs/REPRODUCTIONS.md",
    names: Sequence[str] | None = None,
) -> list[ReproRun]:
    """Write ``out`` (markdown) and ``<out folder>/reproductions/<name>_*.png``.

    Args:
      runs: folder holding the run folders (``runs/<name>/`` as written by ``initjax run``).
      out: the markdown file to write.
      names: reproductions to include, in order; default :data:`REPRODUCTIONS` plus any other
        run folder under ``runs`` whose summary.md has a verdict line.

    Returns:
      the collected :class:`ReproRun` records (``run_dir`` None for reproductions not run).

    Raises:
      ValueError: ``names`` empty.
    """
    runs, out = Path(runs), Path(out)
    if names is not None:
        names = [n for n in names if n.strip()]
        if not names:
            raise ValueError("names must list at least one reproduction")
    else:
        names = [*REPRODUCTIONS, *_discover(runs, REPRODUCTIONS)]
    fig_dir = out.parent / "reproductions"
    records = [read_run(runs, n) for n in names]
    lines = [
        "# Paper reproductions",
        "",
        "Generated by `initjax report` from the run folders in "
        f"`{runs.as_posix()}/` (each written by `initjax run <name>` at its default preset). "
        "Every reproduction states its criterion, puts measured, theory and published values side "
        "by side, and says how its default preset is scaled down from the paper; "
        "`--set preset=full` runs the paper's scale on an accelerator.",
        "",
        "| # | reproduction | title | verdict | key numbers | default-run compute |",
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
        lines.append(f"| {i} | {link} | {r.title} | {verdict} | {reason} | {_wall(r.manifest)} |")
    for i, r in enumerate(records, 1):
        cname = cli_name(r.name)
        lines += ["", "---", ""]
        if r.run_dir is None:
            lines += [
                f"## {i}. {cname}: not run",
                "",
                f"No run folder `{(runs / cname).as_posix()}/` with a summary.md. Run it with "
                f"`initjax run {cname}`, then `initjax report`.",
            ]
            continue
        lines += [
            f"## {i}. {cname}: {r.title}",
            "",
            f"Command: `initjax run {cname}` (default preset; paper scale: "
            f"`initjax run {cname} --set preset=full`). Redraw: `initjax plot "
            f"{r.run_dir.as_posix()}`.",
            "",
        ]
        if not re.search(r"^Run: ", r.body, flags=re.M):
            lines += [run_line(r.run_dir), ""]
        for p in r.problems:
            lines.append(f"> convention problem: {p}")
        for old in fig_dir.glob(f"{cname}_*.png"):
            old.unlink()
        for fig in r.figures:
            dst = shrink_png(fig, fig_dir / f"{cname}_{fig.name}")
            rel = dst.relative_to(out.parent).as_posix()
            lines += [f"![{cname} {fig.stem}]({rel})", ""]
        lines += [_demote(r.body), ""]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines).rstrip() + "\n")
    return records
