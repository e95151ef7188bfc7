"""`RiskModel.prepare_rows` gives bitwise `prepare`'s matrix: from a frame's rows and from the rows' values.

The rows are those of API requests (tests/service/profile_rows_cases.py) made into a frame or into row values by
`service.profile_rows`, the producer of what `prepare_rows` takes, on the model and profiles of the explanation
tests (the catalogue's features).
"""

from __future__ import annotations

from datetime import date

import numpy as np

from service.profile_rows import profile_values, profiles_from_rows
from tests.models.explain_fixtures import profiles, small_model
from tests.service.profile_rows_cases import county_rows, random_rows, variants

AS_OF = date(2025, 7, 1)


def test_model_matrix_is_bitwise_prepare() -> None:
    model, batch_profiles = small_model(), profiles()
    frames = [profiles_from_rows(rows, AS_OF) for rows in variants(county_rows(batch_profiles, 6))]
    frames.append(batch_profiles.head(5))
    odd = batch_profiles.head(3).copy()  # dtypes the fast conversion leaves to prepare
    odd["members_count"] = odd["members_count"].astype("Int64")
    odd["village_type"] = odd["village_type"].astype(object)
    odd["income_pc_yuan"] = odd["income_pc_yuan"].astype(str)
    frames.append(odd)
    for frame in frames:
        rows = [frame.iloc[i] for i in range(len(frame))]
        np.testing.assert_array_equal(model.prepare_rows(frame, rows), model.prepare(frame))


def test_values_matrix_is_bitwise_prepare() -> None:
    model, batch_profiles = small_model(), profiles()
    for seed in range(20):
        rows = random_rows(batch_profiles, seed)
        expected = model.prepare(profiles_from_rows(rows, AS_OF))
        np.testing.assert_array_equal(model.prepare_rows(profile_values(rows, AS_OF)), expected)
