"""Small pandas helpers for the results tables experiments build from their pieces."""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["lead_columns"]


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
