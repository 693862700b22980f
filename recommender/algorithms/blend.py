"""A weighted blend of several models' scores, fused by rank or by z-score (no Django)."""

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from .base import ALGORITHMS, NotSupported, Recommender, create

# The product's default blend: the components, weights and fusion with the best mean NDCG@10
# over five validation splits carved out of HetRec's training data (never its test split;
# benchmarks/blend_choice.py, results/quality.md). ALS comes as ALS_RUNS runs that differ only
# in their seed (component i is seeded with the blend's seed + i): one run's ranking depends
# on its random start, and fusing several evens that out (a weight of 2 shared among them).
ALS_RUNS = 10
DEFAULT_COMPONENTS = [
    {"algorithm": "ease", "params": {"l2": 2000}},
    *(
        {"algorithm": "als", "params": {"factors": 24, "regularization": 2.0, "alpha": 2.0}}
        for _ in range(ALS_RUNS)
    ),
    {"algorithm": "rp3beta", "params": {"alpha": 1.2, "beta": 0.6}},
]
DEFAULT_WEIGHTS = [0.75, *[2.0 / ALS_RUNS] * ALS_RUNS, 0.75]
FUSIONS = ("rrf", "zscore")
SEPARATOR = "."


def zscore(scores: np.ndarray) -> np.ndarray:
    """Each row as (s - mean) / std across its items; a row of equal scores becomes all 0."""
    scores = np.asarray(scores, dtype=np.float64)
    mean = scores.mean(axis=1, keepdims=True)
    std = scores.std(axis=1, keepdims=True)
    centred = scores - mean
    return np.divide(centred, std, out=np.zeros_like(centred), where=std > 0)


def reciprocal_ranks(scores: np.ndarray, played: sp.csr_matrix | None, c: float) -> np.ndarray:
    """Each row's items as 1 / (c + rank), rank 1 for the best-scored item; items in
    `played` (when given: the listener's plays, which will not be recommended) rank after
    every other, so they do not push the others down. Ties keep item order."""
    scores = np.array(scores, dtype=np.float32)
    if played is not None:
        cells = played.tocoo()
        keep = cells.data != 0  # a stored zero is not a play
        scores[cells.row[keep], cells.col[keep]] = -np.inf
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty(order.shape, dtype=np.float32)
    positions = np.arange(1, scores.shape[1] + 1, dtype=np.float32)
    np.put_along_axis(ranks, order, positions[None, :], axis=1)
    return np.float32(1.0) / (np.float32(c) + ranks)


class Blend(Recommender):
    """A weighted sum of several models' fused scores, the models fitted on the same matrix.

    Params: `components`, a list of {"algorithm": name, "params": {...}} (any registered
    model but another blend), and `weights`, one non-negative float per component (None:
    all equal; components given without weights are weighted equally, the default
    components come with their tuned `DEFAULT_WEIGHTS`). Component i is seeded with the
    blend's seed + i. Each component scores a batch of listeners against every item, and
    each listener's scores are put on one scale per model, so no model wins by its scale
    alone, by `fusion`: "rrf" (reciprocal-rank fusion: 1 / (`rrf_c` + rank) among the
    items the listener has not played; one argsort per listener and component) or
    "zscore" ((s - mean) / std across items, 0 when all scores are equal); then summed with
    the weights. Choose weights and fusion on validation splits
    (`evaluation.protocol.tune`). Similar items and reasons come from the most heavily
    weighted component that has them.
    """

    name: ClassVar[str] = "blend"
    defaults: ClassVar[Mapping[str, Any]] = {
        "components": DEFAULT_COMPONENTS,
        "weights": DEFAULT_WEIGHTS,
        "fusion": "rrf",
        "rrf_c": 60.0,
    }

    def __init__(self, *, seed: int = 0, **params: Any) -> None:
        if "components" in params and "weights" not in params:
            params["weights"] = None  # the default weights belong to the default components
        super().__init__(seed=seed, **params)
        self.params["components"] = self._checked_components(self.params["components"])
        self.params["weights"] = self._checked_weights(self.params["weights"])
        if self.params["fusion"] not in FUSIONS:
            raise ValueError(
                f"blend fusion must be one of {', '.join(FUSIONS)}, not {self.params['fusion']!r}"
            )
        rrf_c = self.params["rrf_c"]
        if isinstance(rrf_c, bool) or not isinstance(rrf_c, int | float) or not rrf_c >= 0:
            raise ValueError(f"blend rrf_c must be a number >= 0, not {rrf_c!r}")
        self.components: list[Recommender] = [
            create(spec["algorithm"], seed=self.seed + index, **spec["params"])
            for index, spec in enumerate(self.params["components"])
        ]

    @staticmethod
    def _checked_components(components: Any) -> list[dict[str, Any]]:
        if isinstance(components, str | bytes | Mapping) or not isinstance(components, Sequence):
            raise TypeError(
                'blend components must be a list of {"algorithm": name, "params": {...}}, '
                f"not {type(components).__name__}"
            )
        if not components:
            raise ValueError("blend needs at least one component")
        checked = []
        for index, spec in enumerate(components):
            if not isinstance(spec, Mapping):
                raise TypeError(
                    f'blend component {index} must be {{"algorithm": name, "params": {{...}}}}, '
                    f"not {type(spec).__name__}"
                )
            extra = sorted(set(spec) - {"algorithm", "params"})
            if extra or "algorithm" not in spec:
                raise ValueError(
                    f'blend component {index} must have an "algorithm" and optional "params" '
                    f"keys only; got {sorted(spec)}"
                )
            algorithm = spec["algorithm"]
            if algorithm == Blend.name:
                raise ValueError(f"blend component {index} cannot itself be a blend")
            if algorithm not in ALGORITHMS:
                known = ", ".join(name for name in ALGORITHMS if name != Blend.name)
                raise ValueError(
                    f"blend component {index} has unknown algorithm {algorithm!r}; "
                    f"choose one of {known}"
                )
            params = spec.get("params") or {}
            if not isinstance(params, Mapping):
                raise TypeError(
                    f"blend component {index} params must be a mapping, not {type(params).__name__}"
                )
            if "seed" in params:
                raise ValueError(
                    f"blend component {index} cannot set its own seed: component i is seeded "
                    "with the blend's seed + i"
                )
            checked.append({"algorithm": algorithm, "params": copy.deepcopy(dict(params))})
        return checked

    def _checked_weights(self, weights: Any) -> list[float] | None:
        if weights is None:
            return None
        if isinstance(weights, str | bytes | Mapping) or not isinstance(weights, Sequence):
            raise TypeError(
                f"blend weights must be a list of numbers or None, not {type(weights).__name__}"
            )
        n_components = len(self.params["components"])
        if len(weights) != n_components:
            raise ValueError(
                f"blend has {n_components} components but {len(weights)} weights; "
                "give one weight per component (or none for equal weights)"
            )
        checked = []
        for index, weight in enumerate(weights):
            if isinstance(weight, bool) or not isinstance(weight, int | float):
                raise TypeError(f"blend weight {index} must be a number, not {weight!r}")
            if not math.isfinite(weight) or weight < 0:
                raise ValueError(f"blend weight {index} must be finite and >= 0, not {weight}")
            checked.append(float(weight))
        if not any(checked):
            raise ValueError("blend weights must not all be 0")
        return checked

    def _weights(self) -> list[float]:
        return self.params["weights"] or [1.0] * len(self.components)

    def fit(self, user_items: sp.csr_matrix) -> Self:
        matrix = sp.csr_matrix(user_items, dtype=np.float32)
        for component in self.components:
            component.fit(matrix)
        self.n_items = matrix.shape[1]
        self.fitted = True
        return self

    @property
    def needs_known_listeners(self) -> bool:  # type: ignore[override]
        return any(component.needs_known_listeners for component in self.components)

    @property
    def can_fold_in(self) -> bool:  # type: ignore[override]
        return all(
            component.can_fold_in or not component.needs_known_listeners
            for component in self.components
        )

    def recommend(
        self,
        user_ids: np.ndarray,
        user_items: sp.csr_matrix,
        k: int,
        exclude_seen: bool = True,
        recalculate: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """As `Recommender.recommend`; with `recalculate` (when `can_fold_in`), components
        that can fold listeners in do, so listeners need not be known to any of them."""
        if recalculate and not self.can_fold_in:
            raise ValueError("a component of this blend cannot fold listeners in")

        def scorer(ids: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
            return self._scores(ids, rows, fold=recalculate, played_last=exclude_seen)

        return self._rank(user_ids, user_items, k, exclude_seen, scorer)

    def _folded_scores(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        return self._scores(user_ids, user_items, fold=True)

    def _scores(
        self,
        user_ids: np.ndarray,
        user_items: sp.csr_matrix,
        fold: bool = False,
        played_last: bool = True,
    ) -> np.ndarray:
        """The fused scores; `played_last`: rank fusion ranks only the unplayed items (what
        is recommended when played items are excluded), else every item."""
        total = np.zeros((len(user_ids), self.n_items), dtype=np.float64)
        for component, weight in zip(self.components, self._weights(), strict=True):
            if not weight:
                continue
            if fold and component.can_fold_in:
                scores = component._folded_scores(user_ids, user_items)
            else:
                scores = component._scores(user_ids, user_items)
            if self.params["fusion"] == "rrf":
                played = user_items if played_last else None
                total += weight * reciprocal_ranks(scores, played, self.params["rrf_c"])
            else:
                total += weight * zscore(scores)
        return total.astype(np.float32)

    def similar_items(self, item_ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The similar items of the most heavily weighted component that can find them."""
        for component in self._by_weight():
            try:
                return component.similar_items(item_ids, k)
            except NotSupported:
                continue
        raise NotSupported("no component of this blend can find similar items")

    def _by_weight(self) -> list[Recommender]:
        """The components with a positive weight, the heaviest first."""
        pairs = zip(self._weights(), self.components, strict=True)
        return [component for weight, component in sorted(pairs, key=lambda p: -p[0]) if weight > 0]

    def affinity(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """The affinity of the most heavily weighted component that has one: a reason
        should name one model's clear link, not a mixture of scales."""
        for component in self._by_weight():
            try:
                return component.affinity(sources, targets)
            except NotSupported:
                continue
        raise NotSupported("no component of this blend can say why")

    def _state(self) -> dict[str, np.ndarray]:
        return {
            f"{index}{SEPARATOR}{key}": array
            for index, component in enumerate(self.components)
            for key, array in component._state().items()
        }

    def _restore(self, state: Mapping[str, np.ndarray]) -> None:
        parts: list[dict[str, np.ndarray]] = [{} for _ in self.components]
        for key, array in state.items():
            index, _, inner = key.partition(SEPARATOR)
            parts[int(index)][inner] = array
        for component, part in zip(self.components, parts, strict=True):
            component._restore(part)
            component.fitted = True
        self.n_items = self.components[0].n_items
