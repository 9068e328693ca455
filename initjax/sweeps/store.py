"""Results on disk: verified pieces, the final table, manifest.json, and folder ownership.

Layout of a run folder::

    manifest.json               experiment, command, config, environment, times, piece list
    pieces/<piece-id>.parquet   one finished piece of work (temp file, fsync, atomic rename)
    pieces/<piece-id>.json      its label, spec, compute time, row count and the sha256 of the
                                Parquet bytes (written after the Parquet file)
    results.parquet             all pieces of the config, in config order (rebuilt at the end)
    owner.json                  the experiment and config the folder is claimed for (atomic)

A piece counts as finished only when both files exist and the Parquet bytes hash to the recorded
sha256; anything else (a crash between the two writes, a truncated or altered file) is treated
as not finished, and :meth:`RunStore.check_piece` says why so the run loop can report it.

Files are written through :func:`atomic_write_bytes` with the permissions an ordinary ``open``
would give them (``0o666`` minus the process umask), never the ``0o600`` of a raw temp file.

A run folder belongs to one config: :func:`claim_folder` compares the config about to be run with
the one recorded in the folder's manifest and refuses a different one (naming the differing
keys) unless ``overwrite`` is given. The propagate command and the run loop both use it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "FolderConflictError",
    "PieceState",
    "RunStore",
    "atomic_write_bytes",
    "atomic_write_text",
    "claim_folder",
    "config_diff",
    "environment",
    "lock_folder",
    "now",
    "sha256_bytes",
]

PIECES_DIR = "pieces"
LEGACY_GROUPS_DIR = "groups"


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    with _UMASK_LOCK:  # reading the umask means setting it; restore at once
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temp file in the same folder, fsync, atomic rename.

    The file gets mode ``0o666 & ~umask`` (as ``open(path, "w")`` would), not the ``0o600`` of
    ``tempfile.mkstemp``. A reader sees either the old content or the new one, never a mix.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def environment() -> dict[str, Any]:
    """Versions, devices and git commit (None outside a git checkout), for the manifest."""
    import flax
    import jax

    import initjax

    devices = jax.devices()
    return {
        "initjax": initjax.__version__,
        "jax": jax.__version__,
        "flax": flax.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "backend": jax.default_backend(),
        "device_kind": devices[0].device_kind if devices else None,
        "device_count": len(devices),
        "git_commit": _git_commit(),
    }


# --- config comparison and folder ownership ---------------------------------------------------


def _plain(x: Any) -> Any:
    """JSON-like plain data (ConfigDict -> dict, tuples -> lists) for comparing and hashing."""
    if hasattr(x, "to_dict"):
        x = x.to_dict()
    if isinstance(x, Mapping):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if hasattr(x, "item") and getattr(x, "shape", None) == ():  # numpy scalars
        return x.item()
    return x


def config_diff(old: Any, new: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """Leaves that differ between two nested configs: ``[(dotted key, old, new)]``.

    A key present on one side only is reported with ``<absent>`` on the other. Lists are
    compared whole (a changed list is one difference).
    """
    old, new = _plain(old), _plain(new)
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new), key=str):
            key = f"{prefix}.{k}" if prefix else str(k)
            if k not in old:
                out.append((key, "<absent>", new[k]))
            elif k not in new:
                out.append((key, old[k], "<absent>"))
            else:
                out.extend(config_diff(old[k], new[k], key))
        return out
    same = json.dumps(old, sort_keys=True, default=str) == json.dumps(
        new, sort_keys=True, default=str
    )
    return [] if same else [(prefix or "<config>", old, new)]


def _short(v: Any, n: int = 60) -> str:
    s = json.dumps(v, default=str) if not isinstance(v, str) else v
    return s if len(s) <= n else s[: n - 3] + "..."


class FolderConflictError(ValueError):
    """A run folder already holds results of a different owner or config."""


def claim_folder(
    root: str | os.PathLike,
    *,
    owner: str,
    config: Any,
    overwrite: bool = False,
    owner_key: str = "experiment",
    config_key: str = "config",
    compare: Sequence[str] | None = None,
    ignore: Sequence[str] = ("preset",),
) -> dict[str, Any] | None:
    """Check that ``root`` may receive results of ``owner`` run with ``config``.

    The folder's ``manifest.json`` records who wrote it (``manifest[owner_key]``) and with which
    config (``manifest[config_key]``). A new folder, an empty one, or one written by the same owner
    with an equal config is accepted; so is ``overwrite=True``, whatever it holds (the caller then
    replaces what it owns). ``compare`` restricts the comparison to those top-level keys of the
    config (e.g. ``("compute",)``: a change of analysis settings is not a conflict); top-level
    keys in ``ignore`` (default the preset's name: its values are in the config) never count.

    Returns:
      The folder's previous manifest (None for a new or empty folder).

    Raises:
      FolderConflictError (a ValueError): ``root`` is a file; a non-empty folder without a
        manifest; another owner; or a different config (the message names every differing key
        with both values) while ``overwrite`` is False.
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise FolderConflictError(f"--out {root} is an existing file, not a folder")
    # In-progress atomic writes (".<name>.*.tmp", e.g. another shard's owner.json being
    # claimed at this moment) do not make a folder non-empty.
    if not root.is_dir() or not any(not _in_progress(p) for p in root.iterdir()):
        return None
    mpath = root / "manifest.json"
    if not mpath.is_file() and (root / OWNER_FILE).is_file():
        mpath = root / OWNER_FILE  # claimed by a run (e.g. another shard) not yet writing
    if not mpath.is_file():
        if overwrite:
            return None
        raise FolderConflictError(
            f"{root} is not empty and has no manifest.json: it is not a run folder of "
            f"{owner}; choose another --out (or --overwrite to write into it anyway)"
        )
    try:
        old = json.loads(mpath.read_text())
    except (OSError, json.JSONDecodeError) as err:
        if overwrite:
            return None
        raise FolderConflictError(f"{mpath} is unreadable ({err}); use --overwrite") from None
    if overwrite:
        return old
    old_owner = old.get(owner_key)
    if old_owner != owner:
        raise FolderConflictError(
            f"{root} holds results of {old_owner or 'another command'!r}, not {owner!r}; "
            "choose another --out, or --overwrite to replace them"
        )
    new_cfg, old_cfg = _plain(config), _plain(old.get(config_key, {}))
    if not isinstance(new_cfg, dict) or not isinstance(old_cfg, dict):
        new_cfg, old_cfg = {"config": new_cfg}, {"config": old_cfg}
    if compare is not None:
        new_cfg = {k: new_cfg.get(k) for k in compare}
        old_cfg = {k: old_cfg.get(k) for k in compare}
    for k in ignore:
        new_cfg.pop(k, None)
        old_cfg.pop(k, None)
    diff = config_diff(old_cfg, new_cfg)
    if diff:
        shown = "; ".join(f"{k}: {_short(a)} there, {_short(b)} now" for k, a, b in diff[:8])
        more = f" (and {len(diff) - 8} more)" if len(diff) > 8 else ""
        raise FolderConflictError(
            f"{root} belongs to a run of {owner} with a different config: {shown}{more}. "
            "Choose another --out, or pass --overwrite to replace its results"
        )
    return old


OWNER_FILE = "owner.json"


def _in_progress(path: Path) -> bool:
    """Whether ``path`` is the temp file of an atomic write (see :func:`atomic_write_bytes`)."""
    return path.name.startswith(".") and path.name.endswith(".tmp") and path.is_file()


def lock_folder(
    root: str | os.PathLike,
    *,
    owner: str,
    config: Any,
    overwrite: bool = False,
    owner_key: str = "experiment",
    config_key: str = "config",
) -> None:
    """Claim ``root`` for ``owner`` and ``config`` atomically, so that concurrent runs (job-array
    shards starting together on a shared filesystem) cannot both take an empty folder with
    different configs.

    ``root/owner.json`` (``{owner_key: owner, config_key: config}``) is created with a hard link
    from a complete temp file, which fails if the file exists (atomic on local filesystems and
    NFS); the loser compares its config with the winner's. ``overwrite`` replaces the file.
    ``config`` is what must match (e.g. only the ``compute`` part), as plain data.

    Raises:
      FolderConflictError: the folder is claimed by another owner or config (names the keys).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    path = root / OWNER_FILE
    record = {owner_key: owner, config_key: _plain(config)}
    text = json.dumps(record, indent=2, sort_keys=True, default=str)
    if overwrite:
        atomic_write_text(path, text)
        return
    fd, tmp = tempfile.mkstemp(dir=root, prefix=f".{OWNER_FILE}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
            return
        except FileExistsError:
            pass
    finally:
        Path(tmp).unlink(missing_ok=True)
    try:
        old = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise FolderConflictError(f"{path} is unreadable ({err}); use --overwrite") from None
    if old.get(owner_key) != owner:
        raise FolderConflictError(
            f"{root} is claimed by {old.get(owner_key)!r}, not {owner!r}; choose another --out"
        )
    diff = config_diff(old.get(config_key), record[config_key])
    if diff:
        shown = "; ".join(f"{k}: {_short(a)} there, {_short(b)} now" for k, a, b in diff[:8])
        more = f" (and {len(diff) - 8} more)" if len(diff) > 8 else ""
        raise FolderConflictError(
            f"{root} is claimed by a run of {owner} with a different config (another shard?): "
            f"{shown}{more}. Every shard of a run needs the same --set options"
        )


# --- pieces -----------------------------------------------------------------------------------


class PieceState:
    """Outcome of :meth:`RunStore.check_piece`."""

    OK = "ok"
    MISSING = "missing"
    INCOMPLETE = "incomplete"  # Parquet without its record, or record without Parquet
    CORRUPT = "corrupt"  # bytes do not match the recorded sha256
    UNREADABLE = "unreadable"  # checksum fine but not a readable table (or legacy file broken)


class RunStore:
    """A run folder: verified pieces, the final table, the manifest.

    ``write_piece`` / ``check_piece`` / ``read_piece`` are the interface of the run loop
    (:mod:`initjax.sweeps.runtime`). ``write_group`` / ``is_done`` / ``read_group`` /
    ``group_meta`` / ``group_path`` are the same operations under the names of the earlier
    layout, kept for the experiments that still drive a store directly; they also checksum.
    """

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.pieces_dir = self.root / PIECES_DIR
        self.groups_dir = self.root / LEGACY_GROUPS_DIR

    # --- pieces ------------------------------------------------------------------------------
    def piece_path(self, piece_id: str) -> Path:
        return self.pieces_dir / f"{piece_id}.parquet"

    def record_path(self, piece_id: str) -> Path:
        return self.pieces_dir / f"{piece_id}.json"

    def write_piece(self, piece_id: str, frame: pd.DataFrame, meta: Mapping[str, Any]) -> str:
        """Persist one finished piece: the Parquet file, then its record with the sha256.

        Returns the sha256 of the stored bytes.
        """
        return self._write(self.piece_path(piece_id), self.record_path(piece_id), frame, meta)

    @staticmethod
    def _write(data_path: Path, rec_path: Path, frame: pd.DataFrame, meta) -> str:
        blob = frame.to_parquet(index=False)
        digest = sha256_bytes(blob)
        rec_path.unlink(missing_ok=True)  # a record never describes other bytes
        atomic_write_bytes(data_path, blob)
        record = {**dict(meta), "sha256": digest, "bytes": len(blob), "rows": len(frame)}
        atomic_write_text(rec_path, json.dumps(record, indent=2, default=str))
        return digest

    def piece_record(self, piece_id: str) -> dict[str, Any]:
        return self._record(self.record_path(piece_id))

    @staticmethod
    def _record(p: Path) -> dict[str, Any]:
        try:
            return json.loads(p.read_text()) if p.is_file() else {}
        except (OSError, json.JSONDecodeError):
            return {}

    def check_piece(self, piece_id: str) -> tuple[str, str]:
        """``(state, detail)``: whether the piece's stored bytes are complete and unaltered."""
        return self._check(self.piece_path(piece_id), self.record_path(piece_id))

    def _check(self, data_path: Path, rec_path: Path) -> tuple[str, str]:
        has_data, has_rec = data_path.is_file(), rec_path.is_file()
        if not has_data and not has_rec:
            return PieceState.MISSING, ""
        if not has_data:
            return PieceState.INCOMPLETE, "record without its Parquet file"
        rec = self._record(rec_path)
        if not rec.get("sha256"):
            return PieceState.INCOMPLETE, "Parquet file without its checksum record"
        blob = data_path.read_bytes()
        if len(blob) != rec.get("bytes", len(blob)):
            return PieceState.CORRUPT, f"{len(blob)} bytes on disk, {rec['bytes']} written"
        if sha256_bytes(blob) != rec["sha256"]:
            return PieceState.CORRUPT, "sha256 of the stored bytes differs from the record"
        return PieceState.OK, ""

    def read_piece(self, piece_id: str) -> pd.DataFrame:
        return pd.read_parquet(self.piece_path(piece_id))

    def discard_piece(self, piece_id: str) -> None:
        self.piece_path(piece_id).unlink(missing_ok=True)
        self.record_path(piece_id).unlink(missing_ok=True)

    def stored_piece_ids(self) -> list[str]:
        if not self.pieces_dir.is_dir():
            return []
        ids = {p.stem for p in self.pieces_dir.glob("*.parquet")}
        ids |= {p.stem for p in self.pieces_dir.glob("*.json")}
        return sorted(ids)

    # --- earlier layout (groups/), checksummed too ----------------------------------------------
    def group_path(self, group_id: str) -> Path:
        return self.groups_dir / f"{group_id}.parquet"

    def write_group(self, group_id: str, frame: pd.DataFrame, meta: dict[str, Any]) -> None:
        self._write(self.group_path(group_id), self.groups_dir / f"{group_id}.json", frame, meta)

    def is_done(self, group_id: str) -> bool:
        """True when the group's bytes verify; a corrupt or incomplete group is removed."""
        data, rec = self.group_path(group_id), self.groups_dir / f"{group_id}.json"
        state, detail = self._check(data, rec)
        if state == PieceState.OK:
            return True
        if state != PieceState.MISSING:
            print(f"group {group_id} {state} ({detail}): recomputing")
            data.unlink(missing_ok=True)
            rec.unlink(missing_ok=True)
        return False

    def read_group(self, group_id: str) -> pd.DataFrame:
        return pd.read_parquet(self.group_path(group_id))

    def group_meta(self, group_id: str) -> dict[str, Any]:
        return self._record(self.groups_dir / f"{group_id}.json")

    # --- final table and manifest ------------------------------------------------------------
    @property
    def table_path(self) -> Path:
        return self.root / "results.parquet"

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def write_table(self, table: pd.DataFrame) -> str:
        blob = table.to_parquet(index=False)
        atomic_write_bytes(self.table_path, blob)
        return sha256_bytes(blob)

    def assemble(self, group_ids: Iterable[str]) -> pd.DataFrame:
        """Concatenate the given finished groups in order and write ``results.parquet``."""
        frames = [self.read_group(g) for g in group_ids]
        table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        self.write_table(table)
        return table

    def read_table(self) -> pd.DataFrame:
        if not self.table_path.is_file():
            raise FileNotFoundError(
                f"{self.table_path} does not exist: the run in {self.root} has not finished "
                "(rerun `initjax run` with the same --out to resume)"
            )
        return pd.read_parquet(self.table_path)

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        manifest = dict(manifest)
        for k, v in _INVOCATION.items():  # the command line that started this process's run
            manifest.setdefault(k, v)
        atomic_write_text(self.manifest_path, json.dumps(manifest, indent=2, default=str))

    def read_manifest(self) -> dict[str, Any]:
        if not self.manifest_path.is_file():
            raise FileNotFoundError(f"{self.root} is not a run folder (no manifest.json)")
        return json.loads(self.manifest_path.read_text())

    def clear(self, *, keep_pieces: bool = False, extra: Iterable[str] = ()) -> None:
        """Remove what a run owns here: pieces/ (unless ``keep_pieces``), groups/, the table,
        manifest and summaries, and the files named in ``extra`` (e.g. its figures)."""
        shutil.rmtree(self.groups_dir, ignore_errors=True)
        if not keep_pieces:
            shutil.rmtree(self.pieces_dir, ignore_errors=True)
        for name in ("results.parquet", "manifest.json", "summary.md", "summary.json", *extra):
            p = self.root / name
            if p.is_file() and p.resolve().parent == self.root.resolve():
                p.unlink()


# The invocation (command line and overrides) of the current `initjax run`, recorded in every
# manifest this process writes: set by the command line, empty when called from Python.
_INVOCATION: dict[str, Any] = {}


def invocation() -> dict[str, Any]:
    """The recorded invocation (``command``, ``overrides``), empty outside ``initjax run``."""
    return dict(_INVOCATION)


def set_invocation(**fields: Any) -> None:
    """Record ``command=...``, ``overrides=[...]`` for the manifests written from now on."""
    _INVOCATION.clear()
    _INVOCATION.update({k: v for k, v in fields.items() if v is not None})
