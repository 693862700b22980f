"""Biased matrix factorisation of 1-5 ratings derived from play counts (no Django).

The classic explicit-feedback model (Koren, Bell & Volinsky 2009, "SVD" in the Netflix
prize sense), kept so that rating-style metrics (RMSE) can be compared with the ranking models.
"""

from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from .base import Recommender

# Observed ratings per SGD step. Each step adds up its gradients, so a small batch behaves
# like plain SGD even for an item that recurs in it.
BATCH_SIZE = 1024


def play_counts_to_ratings(user_items: sp.csr_matrix) -> sp.csr_matrix:
    """Per listener, each play count's quantile among that listener's own counts, as 1..5.

    rating = ceil(5 · rank / n), where n is how many items the listener played and rank is
    the count's rank among them (1 = least played; ties get their average rank). A
    listener's most-played items are 5s and their least-played the lowest of their ratings,
    whatever their overall volume; equal counts get equal ratings. Returns float32.
    """
    counts = sp.csr_matrix(user_items, dtype=np.float32)
    counts.sort_indices()
    lengths = np.diff(counts.indptr)
    rows = np.repeat(np.arange(counts.shape[0]), lengths)
    order = np.lexsort((counts.data, rows))
    values = counts.data[order]
    # Runs of equal counts within a listener share the average of their positions.
    starts_run = np.ones(len(order), dtype=bool)
    starts_run[1:] = (rows[order][1:] != rows[order][:-1]) | (values[1:] != values[:-1])
    run = np.cumsum(starts_run) - 1
    run_start = np.flatnonzero(starts_run)
    run_end = np.append(run_start[1:], len(order))
    average_position = (run_start + run_end - 1) / 2.0
    rank = average_position[run] - counts.indptr[rows[order]] + 1
    ratings = np.empty(len(order), dtype=np.float32)
    ratings[order] = np.ceil(5.0 * rank / lengths[rows[order]])
    return sp.csr_matrix((ratings, counts.indices, counts.indptr), shape=counts.shape)


class RatingMF(Recommender):
    """Predicts a listener's 1-5 rating of an item: mean + biases + factor dot product.

    rating(u, i) = μ + b_u + b_i + p_u · q_i, trained by mini-batch SGD over the shuffled
    observed ratings (`epochs`, `learning_rate`, L2 `regularization`, `factors`; `seed`
    seeds the initial factors and the shuffles). `fit` takes play counts (or confidences:
    only their order within a listener matters) and converts them with
    `play_counts_to_ratings`; `fit_ratings` takes ratings directly. `recommend` ranks by the
    predicted rating (unclipped, so it does not tie at 5) and returns it clipped to [1, 5].
    Listeners must be known.
    """

    needs_known_listeners: ClassVar[bool] = True

    name: ClassVar[str] = "rating"
    defaults: ClassVar[Mapping[str, Any]] = {
        "factors": 32,
        "epochs": 30,
        "learning_rate": 0.01,
        "regularization": 0.02,
    }

    def __init__(self, *, seed: int = 0, **params: Any) -> None:
        super().__init__(seed=seed, **params)
        self.global_mean = np.float32(0.0)
        self.user_bias = np.zeros(0, dtype=np.float32)
        self.item_bias = np.zeros(0, dtype=np.float32)
        self.user_factors = np.zeros((0, 0), dtype=np.float32)
        self.item_factors = np.zeros((0, 0), dtype=np.float32)

    def fit(self, user_items: sp.csr_matrix) -> Self:
        return self.fit_ratings(play_counts_to_ratings(user_items))

    def fit_ratings(self, ratings: sp.csr_matrix) -> Self:
        """Learn from a listeners x items matrix of 1-5 ratings (zeros are unrated)."""
        observed = sp.coo_matrix(ratings, dtype=np.float32)
        users, items, values = observed.row, observed.col, observed.data
        n_users, n_items = observed.shape
        factors, rate = self.params["factors"], np.float32(self.params["learning_rate"])
        decay = np.float32(self.params["regularization"])
        rng = np.random.default_rng(self.seed)
        mean = np.float32(values.mean()) if len(values) else np.float32(3.0)
        user_bias = np.zeros(n_users, dtype=np.float32)
        item_bias = np.zeros(n_items, dtype=np.float32)
        p = rng.normal(0.0, 0.1, (n_users, factors)).astype(np.float32)
        q = rng.normal(0.0, 0.1, (n_items, factors)).astype(np.float32)
        for _ in range(self.params["epochs"]):
            shuffled = rng.permutation(len(values))
            for start in range(0, len(values), BATCH_SIZE):
                batch = shuffled[start : start + BATCH_SIZE]
                u, i = users[batch], items[batch]
                pu, qi = p[u], q[i]
                error = values[batch] - (mean + user_bias[u] + item_bias[i] + (pu * qi).sum(1))
                np.add.at(user_bias, u, rate * (error - decay * user_bias[u]))
                np.add.at(item_bias, i, rate * (error - decay * item_bias[i]))
                np.add.at(p, u, rate * (error[:, None] * qi - decay * pu))
                np.add.at(q, i, rate * (error[:, None] * pu - decay * qi))
        self.global_mean, self.user_bias, self.item_bias = mean, user_bias, item_bias
        self.user_factors, self.item_factors = p, q
        self.n_items = n_items
        self.fitted = True
        return self

    def predict(self, user_ids: np.ndarray, item_ids: np.ndarray) -> np.ndarray:
        """Predicted ratings of the (user_ids[n], item_ids[n]) pairs, clipped to [1, 5]."""
        user_ids = np.asarray(user_ids, dtype=np.int64)
        item_ids = self._check_items(item_ids)
        self._check_known_users(user_ids, len(self.user_bias))
        raw = (
            self.global_mean
            + self.user_bias[user_ids]
            + self.item_bias[item_ids]
            + (self.user_factors[user_ids] * self.item_factors[item_ids]).sum(axis=1)
        )
        return np.clip(raw, 1.0, 5.0).astype(np.float32)

    def recommend(
        self,
        user_ids: np.ndarray,
        user_items: sp.csr_matrix,
        k: int,
        exclude_seen: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        ids, scores = super().recommend(user_ids, user_items, k, exclude_seen)
        return ids, np.where(ids >= 0, np.clip(scores, 1.0, 5.0), scores).astype(np.float32)

    def _scores(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        self._check_known_users(user_ids, len(self.user_bias))
        return (
            self.global_mean
            + self.user_bias[user_ids, None]
            + self.item_bias[None, :]
            + self.user_factors[user_ids] @ self.item_factors.T
        )

    def _state(self) -> dict[str, np.ndarray]:
        return {
            "global_mean": np.array(self.global_mean),
            "user_bias": self.user_bias,
            "item_bias": self.item_bias,
            "user_factors": self.user_factors,
            "item_factors": self.item_factors,
        }

    def _restore(self, state: Mapping[str, np.ndarray]) -> None:
        self.global_mean = np.float32(state["global_mean"])
        self.user_bias, self.item_bias = state["user_bias"], state["item_bias"]
        self.user_factors, self.item_factors = state["user_factors"], state["item_factors"]
        self.n_items = len(self.item_bias)
