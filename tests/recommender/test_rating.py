"""Ratings from play counts, and the biased factorisation that predicts them."""

import numpy as np
import scipy.sparse as sp

from recommender.algorithms import create
from recommender.algorithms.rating import play_counts_to_ratings


def test_play_counts_become_each_listeners_own_quantiles_on_1_to_5():
    counts = sp.csr_matrix(
        np.array(
            [
                [1, 1, 3, 10, 0],  # ranks 1.5, 1.5, 3, 4 of 4: ties share their average
                [0, 7, 0, 0, 0],  # a single item is the listener's most played
                [2, 5, 9, 20, 50],  # ranks 1..5 of 5
                [0, 0, 0, 0, 0],  # nothing played, nothing rated
            ],
            dtype=np.float32,
        )
    )
    ratings = play_counts_to_ratings(counts)
    assert ratings.toarray().tolist() == [
        [2, 2, 4, 5, 0],
        [0, 5, 0, 0, 0],
        [1, 2, 3, 4, 5],
        [0, 0, 0, 0, 0],
    ]
    assert ratings.dtype == np.float32 and ratings.nnz == counts.nnz


def test_predictions_stay_between_1_and_5(rng):
    counts = sp.random(40, 30, density=0.3, format="csr", random_state=rng, dtype=np.float32)
    counts.data = np.ceil(counts.data * 100)
    model = create("rating", factors=4, epochs=20, learning_rate=0.1).fit(counts)
    users, items = np.meshgrid(np.arange(40), np.arange(30), indexing="ij")
    predicted = model.predict(users.ravel(), items.ravel())
    assert predicted.dtype == np.float32
    assert predicted.min() >= 1.0 and predicted.max() <= 5.0


def test_it_fits_a_low_rank_rating_matrix(rng):
    users, items = 80, 40
    truth = 3.0 + rng.normal(0, 0.8, (users, 2)) @ rng.normal(0, 0.8, (2, items))
    truth = np.clip(truth, 1.0, 5.0)
    observed = rng.random((users, items)) < 0.5
    ratings = sp.csr_matrix(np.where(observed, truth, 0.0).astype(np.float32))
    model = create("rating", factors=4, epochs=60, learning_rate=0.02, seed=1)
    model.fit_ratings(ratings)
    rows, columns = ratings.nonzero()
    error = model.predict(rows, columns) - ratings.data
    baseline = np.sqrt(np.mean((ratings.data - ratings.data.mean()) ** 2))
    rmse = np.sqrt(np.mean(error**2))
    assert rmse < 0.25 < baseline
