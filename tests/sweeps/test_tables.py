"""initjax.sweeps.tables."""

import pandas as pd
import pytest

from initjax.sweeps.tables import lead_columns


def test_lead_columns_go_first_in_the_given_order():
    f = pd.DataFrame({"seed": [0, 1], "q": [1.0, 2.0]})
    out = lead_columns(f, part="prop", depth=3)
    assert out is f
    assert list(out.columns) == ["part", "depth", "seed", "q"]
    assert out["part"].tolist() == ["prop", "prop"] and out["depth"].tolist() == [3, 3]


def test_lead_columns_refuses_an_existing_column():
    with pytest.raises(ValueError, match="seed"):
        lead_columns(pd.DataFrame({"seed": [0]}), seed=1)
