"""Implicit ALS (Hu, Koren & Volinsky 2008) through implicit's CPU model (no Django)."""

from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from .factors import FactorModel


class ALS(FactorModel):
    """Weighted matrix factorisation of confidences, solved by alternating least squares.

    Params: `factors`, `regularization`, `alpha` (implicit multiplies every confidence by it)
    and `iterations`; `seed` seeds the initial factors. Always the CPU model, whatever
    implicit was built with, so results do not depend on the machine. A listener's row can
    be folded in (`fold_in`, `recommend(..., recalculate=True)`): one exact least-squares
    solve against the item factors, so new listens and new listeners count without refitting.
    """

    name: ClassVar[str] = "als"
    can_fold_in: ClassVar[bool] = True
    defaults: ClassVar[Mapping[str, Any]] = {
        "factors": 64,
        "regularization": 0.05,
        "alpha": 1.0,
        "iterations": 15,
    }

    def __init__(self, *, seed: int = 0, **params: Any) -> None:
        super().__init__(seed=seed, **params)
        self._model: AlternatingLeastSquares | None = None
        self._source_vectors: np.ndarray | None = None

    def _new_implicit_model(self) -> AlternatingLeastSquares:
        with threadpool_limits(1, "blas"):  # implicit warns at construction otherwise
            return AlternatingLeastSquares(
                factors=self.params["factors"],
                regularization=self.params["regularization"],
                alpha=self.params["alpha"],
                iterations=self.params["iterations"],
                random_state=self.seed,
            )

    def _implicit_model(self) -> AlternatingLeastSquares:
        """implicit's model over our factors; kept, as it caches the items' Gram matrix."""
        self._check_fitted()
        if self._model is None:
            self._model = self._new_implicit_model()
            self._model.user_factors = self.user_factors
            self._model.item_factors = self.item_factors
        return self._model

    def fit(self, user_items: sp.csr_matrix) -> Self:
        model = self._new_implicit_model()
        with threadpool_limits(1, "blas"):
            model.fit(sp.csr_matrix(user_items, dtype=np.float32), show_progress=False)
        self._set_factors(model.user_factors, model.item_factors)
        self._model = None
        self._source_vectors = None
        return self

    def fold_in(self, user_items_rows: sp.csr_matrix) -> np.ndarray:
        """Factors (n_rows x factors) of listeners computed from their rows alone."""
        rows = self._check_rows(np.arange(user_items_rows.shape[0]), user_items_rows)
        with threadpool_limits(1, "blas"):
            factors = self._implicit_model().recalculate_user(np.arange(rows.shape[0]), rows)
        return np.asarray(factors, dtype=np.float32).reshape(rows.shape[0], -1)

    def _folded_scores(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        return self.fold_in(user_items) @ self.item_factors.T

    def source_vectors(self) -> np.ndarray:
        """(YᵀY + λI)⁻¹ Y: with it, a listener's folded-in factors are close to the sum of
        confidence(i) times row i, so affinity(i, j) splits a score over the played items
        as `explain` does, without each listener's own term in the inverse (cheap for
        every listener at once; `explain` gives the exact split for one)."""
        if self._source_vectors is None:
            factors = self.item_factors.astype(np.float64)
            gram = factors.T @ factors + self.params["regularization"] * np.eye(factors.shape[1])
            self._source_vectors = np.linalg.solve(gram, factors.T).T.astype(np.float32)
        return self._source_vectors

    def explain(
        self,
        user_id: int,
        user_items_row: sp.csr_matrix,
        item_id: int,
        n_contributions: int = 10,
    ) -> tuple[float, list[tuple[int, float]]]:
        """Why the listener would like `item_id`: (score, [(played item, contribution), ...]).

        The score is the listener's folded-in score from `user_items_row` (a 1 x items row),
        split exactly over the items they played; the `n_contributions` largest come back,
        largest first, and all of them sum to the score. `user_id` names the listener for the
        caller's logs and checks only; the explanation depends on the row alone.
        """
        row = self._check_rows(np.array([user_id]), user_items_row)
        item_id = int(self._check_items(np.array([item_id]))[0])
        with threadpool_limits(1, "blas"):
            score, top, _ = self._implicit_model().explain(0, row, item_id, N=n_contributions)
        return float(score), [(int(item), float(value)) for item, value in top]
