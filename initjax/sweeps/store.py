"""Results on disk: one Parquet file per finished group, a final table, and manifest.json.

Layout of a run folder::

    manifest.json                 config, versions, device, git commit, times, per-group wall time
    groups/<group-id>.parquet     one finished group (written to a temp file, then renamed)
    groups/<group-id>.json        that group's spec and wall time (written before the parquet)
    results.parquet               all groups of the config, in config order (rebuilt at the end)

A group counts as finished iff its Parquet file exists, so a crash or Ctrl-C at any moment leaves
only whole groups, and a rerun skips them.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "RunStore",
    "atomic_write_bytes",
    "environment",
    "now",
]


def now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    """Versions, devices and git commit, for the manifest."""
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


class RunStore:
    """A run folder: finished groups, the final table, the manifest."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.groups_dir = self.root / "groups"

    # --- groups -----------------------------------------------------------------------------
    def group_path(self, group_id: str) -> Path:
        return self.groups_dir / f"{group_id}.parquet"

    def is_done(self, group_id: str) -> bool:
        return self.group_path(group_id).is_file()

    def write_group(self, group_id: str, frame: pd.DataFrame, meta: dict[str, Any]) -> None:
        """Persist one finished group atomically (meta first, the Parquet file last)."""
        atomic_write_bytes(
            self.groups_dir / f"{group_id}.json",
            json.dumps(meta, indent=2, default=str).encode(),
        )
        atomic_write_bytes(self.group_path(group_id), frame.to_parquet(index=False))

    def read_group(self, group_id: str) -> pd.DataFrame:
        return pd.read_parquet(self.group_path(group_id))

    def group_meta(self, group_id: str) -> dict[str, Any]:
        p = self.groups_dir / f"{group_id}.json"
        return json.loads(p.read_text()) if p.is_file() else {}

    # --- final table and manifest ------------------------------------------------------------
    @property
    def table_path(self) -> Path:
        return self.root / "results.parquet"

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    def assemble(self, group_ids: Iterable[str]) -> pd.DataFrame:
        """Concatenate the given finished groups in order and write ``results.parquet``."""
        frames = [self.read_group(g) for g in group_ids]
        table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        atomic_write_bytes(self.table_path, table.to_parquet(index=False))
        return table

    def read_table(self) -> pd.DataFrame:
        if not self.table_path.is_file():
            raise FileNotFoundError(
                f"{self.table_path} does not exist: the run in {self.root} has not finished "
                "(rerun `initjax run` with the same --out to resume)"
            )
        return pd.read_parquet(self.table_path)

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        atomic_write_bytes(self.manifest_path, json.dumps(manifest, indent=2, default=str).encode())

    def read_manifest(self) -> dict[str, Any]:
        if not self.manifest_path.is_file():
            raise FileNotFoundError(f"{self.root} is not a run folder (no manifest.json)")
        return json.loads(self.manifest_path.read_text())
