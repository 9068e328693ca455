"""initjax.sweeps.tables."""

import pandas as pd
import pytest

from initjax.sweeps.tables import last_step, lead_columns


def test_lead_columns_go_first_in_the_given_order():
    f = pd.DataFrame({"seed": [0, 1], "q": [1.0, 2.0]})
    out = lead_columns(f, part="prop", depth=3)
    assert out is f
    assert list(out.columns) == ["part", "depth", "seed", "q"]
    assert out["part"].tolist() == ["prop", "prop"] and out["depth"].tolist() == [3, 3]


def test_lead_columns_refuses_an_existing_column():
    with pytest.raises(ValueError, match="seed"):
        lead_columns(pd.DataFrame({"seed": [0]}), seed=1)


def test_last_step_keeps_each_groups_final_rows():
    f = pd.DataFrame(
        {
            "arm": ["a", "a", "a", "a", "b", "b"],
            "seed": [0, 1, 0, 1, 0, 0],
            "step": [10, 10, 20, 20, 5, 7],
            "acc": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        }
    )
    out = last_step(f, ["arm"])
    assert out.index.tolist() == [2, 3, 5]  # arm a at step 20 (both seeds), arm b at step 7
    assert out["acc"].tolist() == [0.3, 0.4, 0.6] and list(out.columns) == list(f.columns)
