"""Small pandas helpers for the results tables experiments build from their pieces."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

__all__ = ["last_step", "lead_columns"]


def lead_columns(frame: pd.DataFrame, **columns: Any) -> pd.DataFrame:
    """``frame`` with constant columns put first, in the order given (in place; also returned).

    Args:
      frame: any table (e.g. a piece's rows from ``propagate(...).to_frame()``).
      columns: name -> value (a scalar broadcast to every row, or one value per row).

    Raises:
      ValueError: a name that is already a column of ``frame`` (pandas' message names it).
    """
    for i, (name, value) in enumerate(columns.items()):
        frame.insert(i, name, value)
    return frame


def last_step(frame: pd.DataFrame, by: Sequence[str], step: str = "step") -> pd.DataFrame:
    """The rows at each group's largest ``step`` (e.g. one final row per arm and seed of
    training curves); row order and columns kept.

    Args:
      frame: curve rows with the columns ``by`` and ``step``.
      by: grouping columns; the largest step is taken per group, so a group whose seeds stopped
        at different steps keeps only the rows at its largest one.
      step: the step column.
    """
    return frame[frame[step] == frame.groupby(list(by))[step].transform("max")]
