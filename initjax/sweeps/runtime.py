"""The experiment runtime: the one run loop and the experiment protocol it drives.

Experiment protocol
-------------------
An experiment is a Python file ``experiments/<name>.py`` (``initjax run <name>``; a path to any
``.py`` file, or a folder listed in ``$INITJAX_EXPERIMENTS``, works the same way). At module top
level it defines:

``DESCRIPTION: str``
    One line for ``initjax run --list``; a string literal, read from the file without importing it.
``TITLE: str``, ``PAPER: str``
    The summary's title and the paper it reproduces ("" for the suite's own studies).
``PRESETS: dict[str, dict[str, Any]]``
    Named overrides, at least ``"tiny"`` (seconds, for tests) and ``"full"`` (an accelerator).
    Keys are leaf names (``"seeds"``) or dotted paths (``"analysis.z_max"``).
``get_config() -> ml_collections.ConfigDict``
    With exactly these top-level entries:

    - ``compute``: everything that changes the numbers of the results table (sizes, seeds,
      data, optimizer, grid values, ...).
    - ``analysis``: pre-registered criteria (thresholds in standard errors), fitting windows,
      plot options: nothing here changes the table, so changing it re-evaluates without
      recomputing.
    - ``preset``: the preset's name (``"default"`` unless ``--set preset=NAME``).

    ``--set seeds=64`` resolves an unambiguous leaf name anywhere in the config;
    ``--set analysis.z_max=3`` names it explicitly (:func:`initjax.sweeps.config.resolve_config`).
``pieces(compute) -> Iterable[Piece]``
    Independent units of work; ``Piece(label, fn, spec)`` where ``fn() -> pandas.DataFrame``.
    Grid experiments return :func:`initjax.sweeps.runner.grid_pieces` ``(compute)``.
``evaluate(table, config) -> Verdict``
    A pure function of the results table and the config (:class:`~initjax.sweeps.summary.Verdict`
    with its :class:`~initjax.sweeps.summary.Check` rows); tests feed it synthetic tables.
``report(table, config, ctx) -> Summary``
    Figures and tables of the run: ``ctx.summary(setup)`` starts a
    :class:`~initjax.sweeps.summary.Summary` carrying the verdict and provenance, ``ctx.path(name)``
    is where a figure goes. The runtime writes ``summary.md`` and ``summary.json``.

Run loop
--------
:func:`run_loop` runs pieces into a run folder (:class:`~initjax.sweeps.store.RunStore`):

- A piece's identity (its file name) is a hash of the experiment name, the whole ``compute``
  config, the piece's label and its spec; nothing from ``analysis``. A grid piece may declare
  ``axes``: compute keys (such as ``widths``) whose value reaches the piece only through its own
  slice in ``spec``; they are left out of its hash, so adding a width to a grid leaves the other
  pieces' identities, and their stored results, valid. Only the grid builder sets ``axes``.
- Each finished piece is written atomically with the sha256 of its bytes; a rerun reuses the
  pieces that verify and recomputes the others, saying which and why ("piece X corrupt:
  recomputing").
- SIGTERM and Ctrl-C stop the loop between writes: finished pieces stay, the manifest says
  ``interrupted``, and a rerun resumes.
- The manifest records the command, the config, the environment, each piece's compute time and
  their sum (``compute_s``, the cost of the whole result even when it was computed over several
  resumed runs) and this invocation's wall time (``wall_s``).
- Spread over many jobs or hosts (:mod:`initjax.sweeps.distributed`): ``shard=(i, n)`` runs the
  pieces ``k % n == i`` into a shared folder and the call that finds every piece there
  assembles the table (``assemble=True`` only assembles); in a multi-process JAX run every
  process calls the loop, process 0 decides which pieces remain and alone writes.
  :func:`plan` says what a call would do without doing it (``--dry-run``).
- A run folder belongs to one config (:func:`~initjax.sweeps.store.claim_folder`, and the
  atomic :func:`~initjax.sweeps.store.lock_folder` for runs starting together): a different
  ``compute`` config is refused with the differing keys named; ``overwrite=True`` makes the folder
  the new config's, keeping only the stored pieces whose identities the new config shares (they
  hold exactly the numbers it would compute) and deleting the rest. A change of ``analysis`` only
  is always accepted: nothing is recomputed, the verdict and summary are rebuilt.

:func:`run_experiment` runs an experiment of this protocol; a module that lacks one of its
functions is refused when it is loaded (:class:`~initjax.sweeps.config.Experiment`), naming the
missing ones.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from initjax.sweeps.store import (
    FolderConflictError,
    PieceState,
    RunStore,
    _plain,
    claim_folder,
    environment,
    invocation,
    lock_folder,
    now,
)
from initjax.sweeps.summary import Summary, Verdict

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from initjax.sweeps.config import Experiment

__all__ = [
    "LoopResult",
    "Piece",
    "RunContext",
    "RunResult",
    "finish_run",
    "piece_id",
    "plan",
    "run_experiment",
    "run_loop",
]


@dataclasses.dataclass(frozen=True)
class Piece:
    """One independent, resumable unit of an experiment's work.

    Attributes:
      label: short unique name (shown in progress and messages; part of the file name).
      fn: ``() -> pandas.DataFrame``, the piece's rows.
      spec: what sets this piece's numbers besides the compute config (JSON-able; hashed).
      axes: compute keys whose value reaches this piece only through ``spec`` (left out of its
        hash); set by grid builders, which put the piece's own slice of those keys in ``spec``.
      memory_bytes: an estimate of the device memory the piece needs (shown by ``--dry-run``;
        None: unknown). Not part of its identity.
      cost: an estimate of the piece's compute in arbitrary units, comparable between the
        pieces of one experiment (e.g. cells x seeds x depth x width^2); ``--shard`` balances
        shards by it when every piece has one. Not part of its identity.
    """

    label: str
    fn: Callable[[], Any]
    spec: Any = None
    axes: tuple[str, ...] = ()
    memory_bytes: int | None = None
    cost: float | None = None


def _slug(label: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_.]+", "-", label.replace("=", "")).strip("-.")
    return s[:48] or "piece"


def piece_id(experiment: str, compute: Any, piece: Piece) -> str:
    """``<slug of label>-<16 hex>``: sha256 of (experiment, compute minus axes, label, spec)."""
    c = _plain(compute)
    if isinstance(c, dict):
        c = {k: v for k, v in c.items() if k not in piece.axes}
    blob = json.dumps(
        [experiment, c, piece.label, _plain(piece.spec), sorted(piece.axes)],
        sort_keys=True,
        default=str,
    )
    return f"{_slug(piece.label)}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


@dataclasses.dataclass
class LoopResult:
    """What :func:`run_loop` returns.

    Attributes:
      table: all pieces' rows, in piece order (also written to ``results.parquet``); None when
        the run is not complete (a shard that did not land the last piece) or on a process other
        than the writer of a multi-process run.
      out: the run folder.
      ids: piece ids in piece order.
      computed: ids computed by this call (missing, incomplete or corrupt before).
      recovered: ids that were stored but failed verification (a subset of ``computed``).
      wall_s: this call's wall time.
      compute_s: sum of every piece's recorded compute time (pieces in the folder).
      manifest: the manifest as written (empty on processes that do not write).
      complete: every piece is in the folder, verified, and the table is written.
      missing: ids not (yet) in the folder, e.g. other shards' pieces.
      shard: ``(i, n)`` of this call, or None.
    """

    table: pd.DataFrame | None
    out: Path
    ids: list[str]
    computed: list[str]
    recovered: list[str]
    wall_s: float
    compute_s: float
    manifest: dict[str, Any]
    complete: bool = True
    missing: list[str] = dataclasses.field(default_factory=list)
    shard: tuple[int, int] | None = None


def _install_sigterm() -> Callable[[], None]:
    """Turn SIGTERM into KeyboardInterrupt so a killed run ends like Ctrl-C."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    try:
        old = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not in the main thread
        return lambda: None
    return lambda: signal.signal(signal.SIGTERM, old)


def _compared(config: Any, compare: Sequence[str] | None) -> dict[str, Any]:
    """The part of ``config`` a run folder is claimed with (as :func:`claim_folder` compares)."""
    c = _plain(config)
    if not isinstance(c, dict):
        c = {"config": c}
    if compare is not None:
        c = {k: c.get(k) for k in compare}
    c.pop("preset", None)
    return c


def _processes() -> tuple[int, int]:
    """(process_index, process_count) of the JAX runtime."""
    import jax

    return jax.process_index(), jax.process_count()


def _broadcast(values: Sequence[int]) -> list[int]:
    """Process 0's integers, on every process (one collective; all processes must call it)."""
    import numpy as np
    from jax.experimental import multihost_utils

    arr = np.asarray(list(values), dtype=np.int32)
    return [int(v) for v in multihost_utils.broadcast_one_to_all(arr)]


def _check_ids(name: str, pieces: Sequence[Piece], compute: Any) -> list[str]:
    labels = [p.label for p in pieces]
    if len(set(labels)) != len(labels):
        dup = sorted({x for x in labels if labels.count(x) > 1})
        raise ValueError(f"piece labels must be unique; repeated: {dup}")
    return [piece_id(name, compute, p) for p in pieces]


def run_loop(
    name: str,
    pieces: Sequence[Piece],
    out: str | Path,
    *,
    compute: Any,
    config: Any,
    compare: Sequence[str] | None = ("compute",),
    experiment_path: str | None = None,
    overwrite: bool = False,
    progress: bool = True,
    log: Callable[[str], Any] = print,
    shard: tuple[int, int] | None = None,
    assemble: bool = False,
) -> LoopResult:
    """Run (or resume) ``pieces`` into the run folder ``out``.

    Args:
      name: experiment name (part of every piece's identity).
      pieces: the work, in the order of the final table.
      out: run folder.
      compute: the config part that sets the numbers (hashed into each piece's identity).
      config: the whole config, recorded in the manifest.
      compare: top-level keys of ``config`` a folder's recorded config must match (None: all
        but ``preset``).
      experiment_path: recorded so ``initjax plot`` can find the experiment again.
      overwrite: replace a run of a different config (see the module docstring).
      progress, log: progress bar, and where messages go.
      shard: ``(i, n)``: run only the pieces ``k % n == i`` (:mod:`initjax.sweeps.distributed`);
        the table is assembled if they complete the folder. None: every piece.
      assemble: compute nothing; assemble the table if every piece is in the folder.

    In a multi-process JAX run (``jax.process_count() > 1``) every process must call this with
    the same arguments: process 0 reads the folder and broadcasts which pieces to compute, all
    processes compute them together, process 0 alone writes.

    Raises:
      ValueError: duplicate labels, the folder belongs to another config (unless overwrite),
        or ``assemble`` with pieces missing (naming them).
      KeyboardInterrupt: after SIGTERM / Ctrl-C, once the manifest says how many pieces are saved.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    from initjax.sweeps.distributed import WRITER, shard_indices

    pieces = list(pieces)
    ids = _check_ids(name, pieces, compute)
    out = Path(out)
    rank, n_proc = _processes()
    writer = rank == WRITER
    mine = [] if assemble else shard_indices(len(pieces), shard, [p.cost for p in pieces])
    t0 = time.perf_counter()

    store = RunStore(out)
    manifest: dict[str, Any] = {}
    frames: dict[str, pd.DataFrame] = {}
    recovered: list[str] = []
    todo_mask = [0] * len(pieces)
    failure: BaseException | None = None
    if writer:
        try:
            old = claim_folder(out, owner=name, config=config, overwrite=overwrite, compare=compare)
            lock_folder(out, owner=name, config=_compared(config, compare), overwrite=overwrite)
            if overwrite:
                keep = set(ids)
                stale = [i for i in store.stored_piece_ids() if i not in keep]
                for i in stale:
                    store.discard_piece(i)
                # the old manifest, table, summaries, figures it lists, earlier-layout groups
                store.clear(keep_pieces=True, extra=(old or {}).get("outputs", []))
                shared = sum(store.check_piece(i)[0] == PieceState.OK for i in ids)
                log(
                    f"--overwrite: {out} now belongs to this config; kept {shared} stored "
                    f"piece(s) it shares, deleted {len(stale)}"
                )
            manifest = {
                **invocation(),
                "experiment": name,
                "experiment_path": experiment_path,
                "status": "running",
                "started": now(),
                "config": _plain(config),
                "environment": environment(),
                "processes": n_proc,
                "shard": None if shard is None else f"{shard[0]}/{shard[1]}",
                "pieces": [{"id": i, "label": p.label} for i, p in zip(ids, pieces, strict=True)],
            }
            if not assemble:
                store.write_manifest(manifest)
            for k in mine:
                pid, piece = ids[k], pieces[k]
                state, detail = store.check_piece(pid)
                if state == PieceState.OK:
                    try:
                        frames[pid] = store.read_piece(pid)
                        continue
                    except Exception as err:  # noqa: BLE001 - any unreadable file is recomputed
                        state, detail = PieceState.UNREADABLE, f"{type(err).__name__}: {err}"
                if state != PieceState.MISSING:
                    log(f"piece {piece.label} ({pid}) {state}: {detail}; recomputing")
                    store.discard_piece(pid)
                    recovered.append(pid)
                todo_mask[k] = 1
        except BaseException as err:  # noqa: BLE001 - re-raised after telling the others
            failure = err
    if n_proc > 1:
        got = _broadcast([int(failure is not None), *todo_mask])
        if got[0] and failure is None:
            raise FolderConflictError(
                f"process {WRITER} could not start the run in {out} (its log says why); "
                "no piece was computed"
            )
        todo_mask = got[1:]
    if failure is not None:
        raise failure
    todo = [k for k in range(len(pieces)) if todo_mask[k]]
    if frames:
        log(f"resuming: {len(frames)} of {len(mine)} pieces already in {out}")
    computed: list[str] = []
    restore = _install_sigterm()
    try:
        with tqdm(
            total=len(mine),
            initial=len(mine) - len(todo),
            desc=name,
            unit="piece",
            disable=not progress or not writer or not mine,
        ) as bar:
            for k in todo:
                pid, piece = ids[k], pieces[k]
                bar.set_description(f"{name}: {piece.label}")
                t = time.perf_counter()
                frame = pd.DataFrame(piece.fn())
                dt = time.perf_counter() - t
                if writer:
                    meta = {
                        "label": piece.label,
                        "spec": _plain(piece.spec),
                        "compute_s": dt,
                        "done": now(),
                        "processes": n_proc,
                    }
                    store.write_piece(pid, frame, meta)
                    frames[pid] = frame
                computed.append(pid)
                bar.update(1)
    except KeyboardInterrupt:
        if writer:
            done = sum(store.check_piece(i)[0] == PieceState.OK for i in ids)
            manifest.update(status="interrupted", interrupted=now(), pieces_saved=done)
            store.write_manifest(manifest)
            log(f"interrupted: {done} of {len(pieces)} pieces saved in {out}; rerun to resume")
        raise
    finally:
        restore()
    if not writer:
        return LoopResult(
            None,
            out,
            ids,
            computed,
            recovered,
            time.perf_counter() - t0,
            0.0,
            {},
            False,
            [],
            shard,
        )
    return _assemble(
        name, pieces, ids, store, frames, manifest, computed, recovered, t0, shard, assemble, log
    )


def _assemble(
    name: str,
    pieces: list[Piece],
    ids: list[str],
    store: RunStore,
    frames: dict[str, pd.DataFrame],
    manifest: dict[str, Any],
    computed: list[str],
    recovered: list[str],
    t0: float,
    shard: tuple[int, int] | None,
    assemble: bool,
    log: Callable[[str], Any],
) -> LoopResult:
    """Read the pieces this call did not hold (other shards'), write the table if all are there."""
    import pandas as pd

    missing: list[str] = []
    for pid, piece in zip(ids, pieces, strict=True):
        if pid in frames:
            continue
        state, detail = store.check_piece(pid)
        if state == PieceState.OK:
            try:
                frames[pid] = store.read_piece(pid)
                continue
            except Exception as err:  # noqa: BLE001
                state, detail = PieceState.UNREADABLE, f"{type(err).__name__}: {err}"
        if state != PieceState.MISSING:
            log(
                f"piece {piece.label} ({pid}) {state}: {detail} (another shard may be writing "
                "it; if not, rerunning its shard recomputes it)"
            )
        missing.append(pid)
    out = store.root
    records = {i: store.piece_record(i) for i in ids if i not in missing}
    compute_s = float(sum(r.get("compute_s", r.get("wall_s")) or 0.0 for r in records.values()))
    wall = time.perf_counter() - t0
    tag = f"shard {shard[0]}/{shard[1]}: " if shard is not None else ""
    if missing:
        labels = {i: p.label for i, p in zip(ids, pieces, strict=True)}
        if assemble:
            shown = ", ".join(labels[i] for i in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise ValueError(
                f"--assemble: {len(missing)} of {len(ids)} pieces are not in {out} yet "
                f"({shown}{more}); run (or rerun) the shards that own them"
            )
        manifest.update(
            status="partial",
            finished=now(),
            pieces_saved=len(ids) - len(missing),
            wall_s=wall,
            compute_s=compute_s,
        )
        store.write_manifest(manifest)
        log(
            f"{tag}{name}: {len(computed)} piece(s) computed now; {len(ids) - len(missing)} of "
            f"{len(ids)} pieces in {out}. The shard that lands the last piece assembles the "
            "table (or `initjax run ... --assemble`)"
        )
        return LoopResult(
            None, out, ids, computed, recovered, wall, compute_s, manifest, False, missing, shard
        )
    table = pd.concat([frames[i] for i in ids], ignore_index=True) if ids else pd.DataFrame()
    table_sha = store.write_table(table)
    piece_rows = [
        {
            "id": i,
            "label": p.label,
            "compute_s": records[i].get("compute_s", records[i].get("wall_s")),
            "rows": records[i].get("rows"),
            "sha256": records[i].get("sha256"),
            "computed_now": i in computed,
        }
        for i, p in zip(ids, pieces, strict=True)
    ]
    manifest.update(
        status="computed",
        finished=now(),
        wall_s=wall,
        compute_s=compute_s,
        pieces=piece_rows,
        results={"file": "results.parquet", "rows": len(table), "sha256": table_sha},
    )
    store.write_manifest(manifest)
    log(
        f"{tag}{name}: {len(ids)} pieces ({len(computed)} computed now, {len(recovered)} of them "
        f"after failed verification), {len(table)} rows; compute {compute_s:.1f} s in total, "
        f"this call {wall:.1f} s -> {store.table_path}"
    )
    return LoopResult(
        table, out, ids, computed, recovered, wall, compute_s, manifest, True, [], shard
    )


def plan(
    name: str,
    pieces: Sequence[Piece],
    out: str | Path,
    *,
    compute: Any,
    config: Any,
    compare: Sequence[str] | None = ("compute",),
    shard: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """What :func:`run_loop` would do, without computing or writing anything (``--dry-run``).

    Returns:
      ``{"pieces": [{"index", "label", "id", "state" (ok | missing | incomplete | corrupt),
      "shard" (the shard index that owns it, or None), "runs" (whether this call would compute
      it), "memory_bytes" (the piece's estimate, or None), "cost" (its compute estimate, or
      None)}], "conflict": message or None (the folder belongs to another config), "devices":
      {backend, kind, count, local_count, processes, memory_free (bytes free on one device:
      ``memory_stats()`` bytes_limit - bytes_in_use on GPU/TPU, available host RAM on CPU),
      memory_source}}``.
    """
    import jax

    from initjax.measure import _memory
    from initjax.sweeps.distributed import shard_owners

    pieces = list(pieces)
    ids = _check_ids(name, pieces, compute)
    out = Path(out)
    conflict = None
    try:
        claim_folder(out, owner=name, config=config, compare=compare)
    except FolderConflictError as err:
        conflict = str(err)
    store = RunStore(out)
    owners = shard_owners(len(pieces), shard[1], [p.cost for p in pieces]) if shard else None
    rows = []
    for k, (pid, p) in enumerate(zip(ids, pieces, strict=True)):
        state = store.check_piece(pid)[0] if conflict is None else PieceState.MISSING
        rows.append(
            {
                "index": k,
                "label": p.label,
                "id": pid,
                "state": state,
                "shard": None if owners is None else owners[k],
                "runs": (owners is None or owners[k] == shard[0]) and state != PieceState.OK,
                "memory_bytes": p.memory_bytes,
                "cost": p.cost,
            }
        )
    devs = jax.devices()
    free, _, source = _memory.available()
    devices = {
        "memory_free": free,
        "memory_source": source,
        "backend": jax.default_backend(),
        "kind": devs[0].device_kind if devs else None,
        "count": len(devs),
        "local_count": jax.local_device_count(),
        "processes": jax.process_count(),
    }
    return {"pieces": rows, "conflict": conflict, "devices": devices}


# --- evaluation and reporting -------------------------------------------------------------------


@dataclasses.dataclass
class RunContext:
    """What ``report(table, config, ctx)`` gets besides the table and config.

    Attributes:
      run_dir: the run folder (figures go here; use :meth:`path`).
      name, title, paper: from the experiment module.
      verdict: the result of ``evaluate(table, config)`` (report does not recompute it).
      provenance: command, preset, git_commit, wall_s, compute_s, device, jax, finished.
    """

    run_dir: Path
    name: str
    title: str
    paper: str
    verdict: Verdict
    provenance: dict[str, Any]

    def path(self, filename: str) -> Path:
        """Where a figure or extra file of this run is written."""
        return self.run_dir / filename

    def summary(self, setup: str) -> Summary:
        """A summary with title, paper, provenance and verdict filled in; add tables/figures."""
        return Summary(
            name=self.name,
            title=self.title,
            paper=self.paper,
            provenance=dict(self.provenance),
            setup=setup,
            verdict=self.verdict,
        )


def provenance(manifest: Mapping[str, Any]) -> dict[str, Any]:
    env = manifest.get("environment", {})
    cfg = manifest.get("config", {})
    return {
        "command": manifest.get("command"),
        "overrides": manifest.get("overrides", []),
        "preset": cfg.get("preset", "default") if isinstance(cfg, Mapping) else "default",
        "git_commit": env.get("git_commit"),
        "wall_s": manifest.get("wall_s"),
        "compute_s": manifest.get("compute_s"),
        "device_kind": env.get("device_kind"),
        "device_count": env.get("device_count"),
        "jax": env.get("jax"),
        "finished": manifest.get("finished"),
    }


def finish_run(
    exp: Experiment,
    config: Any,
    run_dir: str | Path,
    table: pd.DataFrame,
    manifest: dict[str, Any],
    *,
    log: Callable[[str], Any] = print,
) -> tuple[Verdict, Summary, list[Path]]:
    """Evaluate, build the report, write summary.md / summary.json, complete the manifest.

    Returns:
      (verdict, summary, written files: the summaries and the figures the summary names).
    """
    run_dir = Path(run_dir)
    verdict = exp.module.evaluate(table, config)
    if not isinstance(verdict, Verdict):
        raise TypeError(f"{exp.name}.evaluate must return a Verdict, got {type(verdict).__name__}")
    ctx = RunContext(run_dir, exp.name, exp.title, exp.paper, verdict, provenance(manifest))
    summary = exp.module.report(table, config, ctx)
    if not isinstance(summary, Summary):
        raise TypeError(f"{exp.name}.report must return a Summary, got {type(summary).__name__}")
    if summary.verdict is not verdict:
        raise ValueError(f"{exp.name}.report must carry the evaluated verdict (ctx.summary(...))")
    missing = [f for f in summary.figures if not (run_dir / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{exp.name}.report names figures it did not write: {missing}")
    written = summary.write(run_dir) + [run_dir / f for f in summary.figures]
    manifest.update(
        status="complete",
        verdict=verdict.status,
        outputs=sorted({p.name for p in written}),
    )
    RunStore(run_dir).write_manifest(manifest)
    log(f"{exp.name}: {verdict.line()}")
    return verdict, summary, written


@dataclasses.dataclass
class RunResult:
    """What :func:`run_experiment` returns (``table``, ``verdict`` and ``summary`` None until
    every piece is in the folder, or with ``analyze=False`` for the latter two)."""

    table: pd.DataFrame | None
    out: Path
    loop: LoopResult
    verdict: Verdict | None
    summary: Summary | None


def run_experiment(
    exp: Experiment,
    config: Any,
    out: str | Path,
    *,
    overwrite: bool = False,
    progress: bool = True,
    analyze: bool = True,
    log: Callable[[str], Any] = print,
    shard: tuple[int, int] | None = None,
    assemble: bool = False,
) -> RunResult:
    """Run (or resume) an experiment into ``out`` and evaluate / report it.

    ``shard=(i, n)`` runs only that shard's pieces and ``assemble=True`` none
    (:func:`run_loop`); the verdict and report are built once every piece is in the folder, by
    the call that finds it complete (``RunResult.loop.complete``). In a multi-process run only
    process 0 evaluates and writes.

    Raises:
      ValueError: invalid config (before any computation) or a folder of another config.
      KeyboardInterrupt: re-raised after the finished pieces are saved.
    """
    out = Path(out)
    loop = run_loop(
        exp.name,
        list(exp.module.pieces(config.compute)),
        out,
        compute=config.compute,
        config=config,
        compare=("compute",),
        experiment_path=str(exp.path),
        overwrite=overwrite,
        progress=progress,
        log=log,
        shard=shard,
        assemble=assemble,
    )
    verdict = summary = None
    if analyze and loop.complete:
        verdict, summary, _ = finish_run(exp, config, out, loop.table, loop.manifest, log=log)
    return RunResult(loop.table, out, loop, verdict, summary)


def redraw(run_dir: str | Path, *, log: Callable[[str], Any] = print) -> list[Path]:
    """Rebuild figures and summaries of a finished run from its stored table and config.

    Returns the files written. Raises FileNotFoundError / ValueError with a clear message for
    a folder that is not a finished run of ``initjax run``.
    """
    import ml_collections

    from initjax.sweeps.config import load_experiment

    run_dir = Path(run_dir)
    store = RunStore(run_dir)
    manifest = store.read_manifest()
    if "experiment" not in manifest:
        if manifest.get("command") == "propagate" or (run_dir / "propagate.parquet").is_file():
            raise ValueError(
                f"{run_dir} was written by `initjax propagate`, whose figure (propagate.png) is "
                "drawn by that command; rerun it with the same arguments (see manifest.json "
                "'args') to redraw. `initjax plot` redraws runs of `initjax run`."
            )
        raise ValueError(f"{run_dir}/manifest.json does not name an experiment: not a run folder")
    where = manifest.get("experiment_path")
    exp = load_experiment(where if where and Path(where).is_file() else manifest["experiment"])
    table = store.read_table()
    config = ml_collections.ConfigDict(manifest["config"])
    _, _, written = finish_run(exp, config, run_dir, table, manifest, log=lambda *_: None)
    return written
