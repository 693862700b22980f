"""ALS beyond the contract: folding a listener in, and explaining a score."""

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.algorithms import create

from .test_algorithms_contract import GROUP_ITEMS, MATRIX

pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture(scope="module")
def model():
    return create("als", factors=4, regularization=1.0, seed=0).fit(MATRIX)


def new_listener(items: list[int]) -> sp.csr_matrix:
    row = np.zeros((1, MATRIX.shape[1]), dtype=np.float32)
    row[0, items] = np.log1p(10)
    return sp.csr_matrix(row)


def test_a_listener_folded_in_from_a_new_row_gets_the_rest_of_their_group(model):
    played = [0, 2, 4, 6, 8]  # half of group one; never a training row
    ids, _ = model.recommend(np.array([9999]), new_listener(played), k=5, recalculate=True)
    assert sorted(ids[0].tolist()) == [1, 3, 5, 7, 9]
    second_group = [GROUP_ITEMS + item for item in played]
    ids, _ = model.recommend(np.array([9999]), new_listener(second_group), k=5, recalculate=True)
    assert sorted(ids[0].tolist()) == [11, 13, 15, 17, 19]


def test_fold_in_gives_one_factor_row_per_listener(model):
    factors = model.fold_in(MATRIX[:3])
    assert factors.shape == (3, 4) and factors.dtype == np.float32


def test_a_listener_it_was_not_trained_on_needs_recalculate(model):
    with pytest.raises(ValueError, match="only knows the 20 listeners"):
        model.recommend(np.array([9999]), new_listener([0, 1]), k=5)


def test_explain_splits_the_folded_in_score_over_the_played_items(model):
    row = MATRIX[0]
    score, contributions = model.explain(0, row, item_id=0, n_contributions=row.nnz)
    assert len(contributions) == row.nnz
    assert {item for item, _ in contributions} == set(row.indices)
    assert sum(value for _, value in contributions) == pytest.approx(score, rel=1e-4)
    folded = model.fold_in(row) @ model.item_factors[0]
    assert score == pytest.approx(float(folded[0]), rel=1e-3)
    values = [value for _, value in contributions]
    assert values == sorted(values, reverse=True)


def test_refitting_starts_again_from_the_seed():
    model = create("als", factors=4, regularization=1.0, seed=3).fit(MATRIX)
    first = model.item_factors.copy()
    model.recommend(np.arange(2), MATRIX[:2], k=3, recalculate=True)
    np.testing.assert_array_equal(model.fit(MATRIX).item_factors, first)
