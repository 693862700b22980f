"""The blend: a weighted sum of its components' per-listener fused scores (by reciprocal
rank, the default, or by z-score)."""

import numpy as np
import pytest
import scipy.sparse as sp

from recommender.algorithms import blend as blend_module
from recommender.algorithms import create, load
from recommender.algorithms.blend import (
    ALS_RUNS,
    LARGE_ALS_RUNS,
    reciprocal_ranks,
    top_reciprocal_ranks,
    zscore,
)

pytestmark = pytest.mark.filterwarnings("error")

ALS = {"algorithm": "als", "params": {"factors": 8, "iterations": 5}}
EASE = {"algorithm": "ease", "params": {"l2": 5.0}}


def random_plays(seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = rng.random((60, 40)) < 0.2
    counts = rng.integers(1, 20, size=dense.shape) * dense
    return sp.csr_matrix(np.log1p(counts).astype(np.float32))


MATRIX = random_plays()
LISTENERS = np.arange(MATRIX.shape[0])
K = 10


def test_zscore_centres_and_scales_each_row_and_flat_rows_become_zero():
    scores = np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]], dtype=np.float32)
    normalised = zscore(scores)
    np.testing.assert_allclose(normalised[0], [-1.224744871, 0.0, 1.224744871])
    np.testing.assert_array_equal(normalised[1], [0.0, 0.0, 0.0])


def test_reciprocal_ranks_rank_unplayed_items_first_and_ties_in_item_order():
    scores = np.array([[3.0, 1.0, 2.0, 1.0]], dtype=np.float32)
    played = sp.csr_matrix(np.array([[1.0, 0.0, 0.0, 0.0]]))
    np.testing.assert_allclose(
        reciprocal_ranks(scores, played, c=60), [[1 / 64, 1 / 62, 1 / 61, 1 / 63]]
    )
    np.testing.assert_allclose(
        reciprocal_ranks(scores, None, c=60), [[1 / 61, 1 / 63, 1 / 62, 1 / 64]]
    )


@pytest.mark.parametrize("fusion", ["rrf", "zscore"])
def test_a_weight_of_zero_leaves_the_first_components_ranking_exactly(fusion):
    blend = create("blend", seed=3, components=[ALS, EASE], weights=[1, 0], fusion=fusion)
    blend.fit(MATRIX)
    alone = create("als", seed=3, **ALS["params"]).fit(MATRIX)  # component 0: the blend's seed
    for exclude_seen in (True, False):
        expected, _ = alone.recommend(LISTENERS, MATRIX, k=K, exclude_seen=exclude_seen)
        actual, _ = blend.recommend(LISTENERS, MATRIX, k=K, exclude_seen=exclude_seen)
        np.testing.assert_array_equal(actual, expected)


def test_the_same_model_twice_ranks_as_the_model_alone():
    blend = create("blend", components=[EASE, EASE], weights=[1, 1]).fit(MATRIX)
    alone = create("ease", **EASE["params"]).fit(MATRIX)
    np.testing.assert_array_equal(
        blend.recommend(LISTENERS, MATRIX, k=K)[0], alone.recommend(LISTENERS, MATRIX, k=K)[0]
    )


def test_the_scale_of_a_components_scores_does_not_matter():
    blend = create("blend", components=[ALS, EASE]).fit(MATRIX)
    expected = blend.recommend(LISTENERS, MATRIX, k=K)
    ease = blend.components[1]
    unscaled = ease._scores
    ease._scores = lambda user_ids, user_items: 1000 * unscaled(user_ids, user_items)
    actual = blend.recommend(LISTENERS, MATRIX, k=K)
    np.testing.assert_array_equal(actual[0], expected[0])
    np.testing.assert_allclose(actual[1], expected[1], rtol=1e-5)


def test_scores_are_the_weighted_sum_of_reciprocal_ranks():
    blend = create("blend", components=[ALS, EASE], weights=[0.25, 2.0]).fit(MATRIX)
    _, scores = blend.recommend(LISTENERS[:5], MATRIX[:5], k=MATRIX.shape[1], exclude_seen=False)
    als, ease = blend.components
    rows = MATRIX[:5]
    # Played items not excluded: every item is ranked, played ones included.
    expected = 0.25 * reciprocal_ranks(als._scores(LISTENERS[:5], rows), None, 60) + (
        2.0 * reciprocal_ranks(ease._scores(LISTENERS[:5], rows), None, 60)
    )
    np.testing.assert_allclose(scores, -np.sort(-expected, axis=1), rtol=1e-5, atol=1e-7)


def test_scores_are_the_weighted_sum_of_z_scores():
    blend = create("blend", components=[ALS, EASE], weights=[0.25, 2.0], fusion="zscore")
    blend.fit(MATRIX)
    _, scores = blend.recommend(LISTENERS[:5], MATRIX[:5], k=MATRIX.shape[1], exclude_seen=False)
    als, ease = blend.components
    expected = 0.25 * zscore(als._scores(LISTENERS[:5], MATRIX[:5])) + 2.0 * zscore(
        ease._scores(LISTENERS[:5], MATRIX[:5])
    )
    np.testing.assert_allclose(scores, -np.sort(-expected, axis=1), rtol=1e-5, atol=1e-5)


def test_components_are_seeded_with_the_blends_seed_plus_their_index():
    blend = create("blend", seed=10, components=[ALS, ALS, EASE])
    assert [component.seed for component in blend.components] == [10, 11, 12]


def test_it_saves_and_loads_back_every_component(tmp_path):
    blend = create("blend", seed=2, components=[ALS, EASE, ALS], weights=[1, 2, 0.5])
    blend.fit(MATRIX)
    blend.save(tmp_path / "blend.npz")
    loaded = load(tmp_path / "blend.npz")
    assert loaded.params == blend.params and loaded.seed == 2
    expected = blend.recommend(LISTENERS, MATRIX, k=K)
    actual = loaded.recommend(LISTENERS, MATRIX, k=K)
    np.testing.assert_array_equal(actual[0], expected[0])
    np.testing.assert_array_equal(actual[1], expected[1])


def test_the_defaults_are_the_tuned_ease_als_runs_and_rp3beta():
    blend = create("blend", seed=3)
    names = [component.name for component in blend.components]
    assert names == ["ease", *["als"] * ALS_RUNS, "rp3beta"]
    assert blend.components[0].params["l2"] == 2000
    runs = blend.components[1:-1]
    assert {run.params["factors"] for run in runs} == {24}
    # The runs differ only in their seed, so fusing them evens out ALS's random start.
    assert [run.seed for run in runs] == list(range(4, 4 + ALS_RUNS))
    assert blend.components[-1].params == {"alpha": 1.2, "beta": 0.6, "k_neighbours": 200}
    assert blend.params["weights"] == [0.75, *[0.2] * ALS_RUNS, 0.75]
    assert blend.params["fusion"] == "rrf" and blend.params["rrf_c"] == 60


def test_components_given_without_weights_are_weighted_equally():
    blend = create("blend", components=[ALS, EASE])
    assert blend.params["weights"] is None
    assert blend._weights() == [1.0, 1.0]


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"components": []}, ValueError, "at least one component"),
        ({"components": "ease"}, TypeError, "must be a list"),
        ({"components": [{"algorithm": "nope"}]}, ValueError, "unknown algorithm 'nope'.*ease"),
        ({"components": [{"algorithm": "blend"}]}, ValueError, "cannot itself be a blend"),
        ({"components": [{"params": {}}]}, ValueError, 'must have an "algorithm"'),
        ({"components": [{"algorithm": "ease", "weight": 1}]}, ValueError, "keys only"),
        ({"components": ["ease"]}, TypeError, "component 0 must be"),
        ({"components": [{"algorithm": "ease", "params": [1]}]}, TypeError, "params must be"),
        (
            {"components": [{"algorithm": "als", "params": {"seed": 1}}]},
            ValueError,
            "cannot set its own seed",
        ),
        ({"components": [EASE], "weights": [1, 2]}, ValueError, "1 components but 2 weights"),
        ({"components": [EASE], "weights": 1.0}, TypeError, "weights must be a list"),
        ({"components": [EASE], "weights": ["1"]}, TypeError, "weight 0 must be a number"),
        ({"components": [EASE], "weights": [-1]}, ValueError, "weight 0 must be finite and >= 0"),
        ({"components": [EASE], "weights": [float("nan")]}, ValueError, "finite"),
        ({"components": [EASE, EASE], "weights": [0, 0]}, ValueError, "not all be 0"),
        ({"fusion": "mean"}, ValueError, "fusion must be one of rrf, zscore, not 'mean'"),
        ({"rrf_c": -1}, ValueError, "rrf_c must be a number >= 0"),
        ({"rrf_c": "60"}, ValueError, "rrf_c must be a number >= 0"),
    ],
)
def test_bad_params_are_refused_with_a_clear_message(params, error, message):
    with pytest.raises(error, match=message):
        create("blend", **params)


def test_a_components_unknown_parameter_is_refused_by_name():
    with pytest.raises(TypeError, match="no_such_knob"):
        create("blend", components=[{"algorithm": "ease", "params": {"no_such_knob": 1}}])


def test_with_recalculate_a_listener_unknown_to_als_is_folded_in():
    blend = create("blend", components=[ALS, EASE], weights=[1, 1]).fit(MATRIX)
    assert blend.needs_known_listeners and blend.can_fold_in
    newcomer = MATRIX[:1]
    with pytest.raises(ValueError, match="only knows the 60 listeners"):
        blend.recommend(np.array([60]), newcomer, k=K)
    folded, _ = blend.recommend(np.array([60]), newcomer, k=K, recalculate=True)
    als = blend.components[0]
    expected = reciprocal_ranks(als._folded_scores(np.array([0]), newcomer), newcomer, 60) + (
        reciprocal_ranks(blend.components[1]._scores(np.array([0]), newcomer), newcomer, 60)
    )
    expected[0, newcomer.indices] = -np.inf
    assert folded[0].tolist() == np.argsort(-expected[0], kind="stable")[:K].tolist()


def test_similar_items_and_reasons_come_from_the_heaviest_component_that_has_them():
    blend = create("blend", components=[{"algorithm": "popularity"}, EASE], weights=[5, 1])
    blend.fit(MATRIX)
    ease = blend.components[1]
    items = np.arange(5)
    np.testing.assert_array_equal(blend.similar_items(items, 3)[0], ease.similar_items(items, 3)[0])
    ids, _ = blend.recommend(LISTENERS[:5], MATRIX[:5], k=K)
    np.testing.assert_array_equal(blend.reasons(MATRIX[:5], ids), ease.reasons(MATRIX[:5], ids))


def test_top_reciprocal_ranks_vote_for_each_rows_best_items_only():
    rng = np.random.default_rng(1)
    scores = rng.random((6, 30)).astype(np.float32)
    played = sp.csr_matrix((rng.random((6, 30)) < 0.2).astype(np.float32))
    full = reciprocal_ranks(scores, played, c=60)
    top = top_reciprocal_ranks(scores, played, c=60, depth=5)
    assert ((top > 0).sum(axis=1) == 5).all()
    for row in range(6):
        best = np.argsort(-full[row])[:5]
        np.testing.assert_allclose(top[row, best], full[row, best])
        assert not set(np.flatnonzero(top[row])) & set(played[row].indices)


def test_a_shallow_fusion_still_gives_k_items_and_agrees_at_the_top_with_the_full_one():
    deep = create("blend", components=[ALS, EASE], rrf_depth=None).fit(MATRIX)
    shallow = create("blend", components=[ALS, EASE], rrf_depth=15).fit(MATRIX)
    full_ids, _ = deep.recommend(LISTENERS, MATRIX, k=K)
    top_ids, top_scores = shallow.recommend(LISTENERS, MATRIX, k=K)
    assert (top_ids >= 0).all() and np.isfinite(top_scores).all()
    assert (top_ids[:, 0] == full_ids[:, 0]).mean() > 0.9  # what leads both lists leads
    with pytest.raises(ValueError, match="rrf_depth must be an integer >= 1 or None"):
        create("blend", rrf_depth=0)


def test_above_eases_max_items_the_blend_fits_sparse_ease_in_its_place(tmp_path):
    large = {"algorithm": "ease", "params": {"l2": 5.0, "max_items": 30}}
    blend = create("blend", components=[ALS, large], weights=[1.0, 2.0]).fit(MATRIX)
    assert [part.name for part in blend.components] == ["als", "sparse_ease"]
    assert blend.params["components"][1] == {"algorithm": "sparse_ease", "params": {"l2": 5.0}}
    assert blend.params["weights"] == [1.0, 2.0]
    blend.save(tmp_path / "blend.npz")
    loaded = load(tmp_path / "blend.npz")
    assert [part.name for part in loaded.components] == ["als", "sparse_ease"]
    np.testing.assert_array_equal(
        loaded.recommend(LISTENERS, MATRIX, k=K)[0], blend.recommend(LISTENERS, MATRIX, k=K)[0]
    )
    fits = create("blend", components=[ALS, EASE]).fit(MATRIX)  # 40 items: EASE fits
    assert [part.name for part in fits.components] == ["als", "ease"]


def test_on_a_large_matrix_fewer_als_runs_share_the_same_total_weight(monkeypatch):
    monkeypatch.setattr(blend_module, "LARGE_PLAYS", MATRIX.nnz - 1)
    blend = create("blend", seed=3).fit(MATRIX)
    names = [part.name for part in blend.components]
    assert names == ["ease", *["als"] * LARGE_ALS_RUNS, "rp3beta"]
    weights = blend.params["weights"]
    assert sum(weights[1:-1]) == pytest.approx(2.0) and weights[0] == weights[-1] == 0.75
    assert [run.seed for run in blend.components[1:-1]] == [4, 5]
    small = create("blend", seed=3, by_size=False).fit(MATRIX)
    assert len(small.components) == ALS_RUNS + 2
