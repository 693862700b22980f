"""Bayesian Personalised Ranking (Rendle et al. 2009) through implicit's CPU model (no Django)."""

from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
from implicit.cpu.bpr import BayesianPersonalizedRanking
from threadpoolctl import threadpool_limits

from .factors import FactorModel


class BPR(FactorModel):
    """Factors learned by SGD so that each played item outranks a sampled unplayed one.

    Params: `factors`, `learning_rate`, `regularization`, `iterations` (epochs) and
    `num_threads`. implicit's SGD is lock-free across threads, so only `num_threads=1` (the
    default) is reproducible; 0 uses every core and is faster but differs run to run.
    implicit appends an item bias as the last factor (and a constant 1 to the listener's).
    Listeners must be known: ids index the trained factors.
    """

    name: ClassVar[str] = "bpr"
    defaults: ClassVar[Mapping[str, Any]] = {
        "factors": 64,
        "learning_rate": 0.01,
        "regularization": 0.01,
        "iterations": 100,
        "num_threads": 1,
    }

    def fit(self, user_items: sp.csr_matrix) -> Self:
        with threadpool_limits(1, "blas"):
            model = BayesianPersonalizedRanking(
                factors=self.params["factors"],
                learning_rate=self.params["learning_rate"],
                regularization=self.params["regularization"],
                iterations=self.params["iterations"],
                num_threads=self.params["num_threads"],
                random_state=self.seed,
            )
            model.fit(sp.csr_matrix(user_items, dtype=np.float32), show_progress=False)
        self._set_factors(model.user_factors, model.item_factors)
        return self
