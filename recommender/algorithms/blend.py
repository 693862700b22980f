"""A weighted blend of several models' scores, fused by rank or by z-score (no Django)."""

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from .base import (
    ALGORITHMS,
    SPARSE_BLOCK_ROWS,
    NotSupported,
    Recommender,
    create,
    top_k,
    top_k_positive,
)

# The product's default blend: the components, weights and fusion with the best mean NDCG@10
# over five validation splits carved out of HetRec's training data (never its test split;
# benchmarks/blend_choice.py, results/quality.md). ALS comes as ALS_RUNS runs that differ only
# in their seed (component i is seeded with the blend's seed + i): one run's ranking depends
# on its random start, and fusing several evens that out (a weight of 2 shared among them).
ALS_RUNS = 10
EASE_COMPONENT = {"algorithm": "ease", "params": {"l2": 2000}}
ALS_COMPONENT = {"algorithm": "als", "params": {"factors": 24, "regularization": 2.0, "alpha": 2.0}}
RP3BETA_COMPONENT = {"algorithm": "rp3beta", "params": {"alpha": 1.2, "beta": 0.6}}
DEFAULT_COMPONENTS = [EASE_COMPONENT, *(ALS_COMPONENT for _ in range(ALS_RUNS)), RP3BETA_COMPONENT]
DEFAULT_WEIGHTS = [0.75, *[2.0 / ALS_RUNS] * ALS_RUNS, 0.75]
# Sized to the data at fit (`by_size`): above LARGE_PLAYS non-zero cells, ten ALS runs cost
# more than the evening-out gains (each run is a full fit), so only LARGE_ALS_RUNS of them
# are kept, sharing the same total weight; EASE above its max_items becomes sparse_ease.
LARGE_PLAYS = 5_000_000
LARGE_ALS_RUNS = 2
FUSIONS = ("rrf", "zscore")
SEPARATOR = "."


def zscore(scores: np.ndarray) -> np.ndarray:
    """Each row as (s - mean) / std across its items; a row of equal scores becomes all 0."""
    scores = np.asarray(scores, dtype=np.float64)
    mean = scores.mean(axis=1, keepdims=True)
    std = scores.std(axis=1, keepdims=True)
    centred = scores - mean
    return np.divide(centred, std, out=np.zeros_like(centred), where=std > 0)


def top_reciprocal_ranks(
    scores: np.ndarray, played: sp.csr_matrix | None, c: float, depth: int
) -> np.ndarray:
    """`reciprocal_ranks` of each row's `depth` best items only, 0 for every other item: one
    argpartition per row instead of a full argsort. Items in `played` (when given) are not
    ranked at all (0). An item outside a model's top `depth` gets no vote from it, as
    reciprocal-rank fusion of top lists does."""
    scores = np.array(scores, dtype=np.float32)
    if played is not None:
        cells = played.tocoo()
        keep = cells.data != 0
        scores[cells.row[keep], cells.col[keep]] = -np.inf
    ids, _ = top_k(scores, depth)
    votes = np.zeros(scores.shape, dtype=np.float32)
    ranked = ids >= 0
    values = np.float32(1.0) / (np.float32(c) + np.arange(1, ids.shape[1] + 1, dtype=np.float32))
    rows = np.broadcast_to(np.arange(len(ids))[:, None], ids.shape)
    votes[rows[ranked], ids[ranked]] = np.broadcast_to(values, ids.shape)[ranked]
    return votes


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


def sized_components(
    components: Sequence[Mapping[str, Any]],
    weights: Sequence[float],
    n_items: int,
    n_plays: int,
) -> tuple[list[dict[str, Any]], list[float]]:
    """The components and weights a blend takes on a matrix of `n_items` columns and
    `n_plays` non-zero cells: an EASE component above its max_items becomes sparse_ease with
    its l2; above LARGE_PLAYS only the first LARGE_ALS_RUNS ALS components stay, their
    weights scaled so the ALS total is unchanged. Already sized components stay as they are."""
    ease = ALGORITHMS["ease"].defaults
    sized: list[dict[str, Any]] = []
    kept: list[float] = []
    als_kept, als_total, als_kept_total = 0, 0.0, 0.0
    for spec, weight in zip(components, weights, strict=True):
        params = dict(spec.get("params") or {})
        spec = {"algorithm": spec["algorithm"], "params": params}
        if spec["algorithm"] == "ease" and n_items > params.get("max_items", ease["max_items"]):
            spec = {"algorithm": "sparse_ease", "params": {"l2": params.get("l2", ease["l2"])}}
        if spec["algorithm"] == "als" and n_plays > LARGE_PLAYS:
            als_total += weight
            if als_kept == LARGE_ALS_RUNS:
                continue
            als_kept += 1
            als_kept_total += weight
        sized.append(spec)
        kept.append(float(weight))
    if als_kept_total > 0 and als_total != als_kept_total:
        scale = als_total / als_kept_total
        kept = [
            weight * scale if spec["algorithm"] == "als" else weight
            for spec, weight in zip(sized, kept, strict=True)
        ]
    return sized, kept


def _summed_votes(listed: np.ndarray, votes: np.ndarray, n_items: int) -> sp.csr_matrix:
    """Rows x items: each row's votes summed per item listed (-1 slots dropped); summed in
    float64 and stored as float32, as the dense fusion does."""
    rows = np.broadcast_to(np.arange(len(listed))[:, None], listed.shape)
    kept = listed >= 0
    fused = sp.csr_matrix(
        (votes[kept], (rows[kept], listed[kept])), shape=(len(listed), n_items), dtype=np.float64
    )
    fused.sum_duplicates()
    return sp.csr_matrix(fused, dtype=np.float32)


class Blend(Recommender):
    """A weighted sum of several models' fused scores, the models fitted on the same matrix.

    Params: `components`, a list of {"algorithm": name, "params": {...}} (any registered
    model but another blend), and `weights`, one non-negative float per component (None:
    all equal; components given without weights are weighted equally, the default
    components come with their tuned `DEFAULT_WEIGHTS`). Component i is seeded with the
    blend's seed + i. Each component scores a batch of listeners against every item, and
    each listener's scores are put on one scale per model, so no model wins by its scale
    alone, by `fusion`: "rrf" (reciprocal-rank fusion: 1 / (`rrf_c` + rank) among the
    items the listener has not played, for each component's `rrf_depth` best items, found
    by argpartition, and 0 for the rest; None ranks every item, one argsort per listener
    and component) or "zscore" ((s - mean) / std across items, 0 when all scores are
    equal); then summed with the weights. Choose weights and fusion on validation splits
    (`evaluation.protocol.tune`). Similar items and reasons come from the most heavily
    weighted component that has them.

    With `by_size` (the default), `fit` sizes the components to the matrix: an EASE
    component above its `max_items` becomes `sparse_ease` with the same l2 (EASE's dense
    items x items matrix would not fit), and above LARGE_PLAYS non-zero cells only the first
    LARGE_ALS_RUNS ALS components are kept, their weights scaled to the same total. The
    sized components and weights are what `params` then holds (and what a saved model
    names), so a fitted blend always says what it is made of.
    """

    name: ClassVar[str] = "blend"
    defaults: ClassVar[Mapping[str, Any]] = {
        "components": DEFAULT_COMPONENTS,
        "weights": DEFAULT_WEIGHTS,
        "fusion": "rrf",
        "rrf_c": 60.0,
        "rrf_depth": 200,
        "by_size": True,
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
        depth = self.params["rrf_depth"]
        if depth is not None and (
            isinstance(depth, bool) or not isinstance(depth, int) or depth < 1
        ):
            raise ValueError(f"blend rrf_depth must be an integer >= 1 or None, not {depth!r}")
        self.components = self._created_components()

    def _created_components(self) -> list[Recommender]:
        return [
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

    def _size_to(self, matrix: sp.csr_matrix) -> None:
        """Take the components and weights `sized` gives this matrix."""
        specs, weights = self.params["components"], self._weights()
        sized, sized_weights = sized_components(specs, weights, matrix.shape[1], matrix.nnz)
        if sized != specs or sized_weights != weights:
            self.params["components"] = sized
            self.params["weights"] = sized_weights
            self.components = self._created_components()

    def fit(self, user_items: sp.csr_matrix) -> Self:
        matrix = sp.csr_matrix(user_items, dtype=np.float32)
        if self.params["by_size"]:
            self._size_to(matrix)
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

        depth = self.params["rrf_depth"]
        depth = None if depth is None else max(depth, k)  # every list holds k of its own

        def scorer(ids: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
            return self._scores(ids, rows, fold=recalculate, played_last=exclude_seen, depth=depth)

        if self.params["fusion"] == "rrf" and depth is not None and depth < self.n_items:
            return self._fused_top(user_ids, user_items, k, exclude_seen, recalculate, depth)
        return self._rank(user_ids, user_items, k, exclude_seen, scorer)

    def _fused_top(
        self,
        user_ids: np.ndarray,
        user_items: sp.csr_matrix,
        k: int,
        exclude_seen: bool,
        fold: bool,
        depth: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        """`recommend` by reciprocal-rank fusion of each component's own top `depth` list
        (`recommend` of each: implicit's top-k for factors, the sparse product for
        neighbourhoods), so no listeners x catalogue block is built: the votes are summed
        over the at most components x depth items listed. Rows where fewer than k eligible
        items got a vote are ranked by `_rank` on the dense fused scores, as before."""
        user_ids = np.asarray(user_ids, dtype=np.int64)
        rows = self._check_rows(user_ids, user_items)
        c = np.float32(self.params["rrf_c"])
        votes_by_rank = np.float32(1.0) / (c + np.arange(1, depth + 1, dtype=np.float32))
        found = np.full((len(user_ids), k), -1, dtype=np.int64)
        best = np.full((len(user_ids), k), -np.inf, dtype=np.float32)
        enough = np.zeros(len(user_ids), dtype=bool)
        for start in range(0, len(user_ids), SPARSE_BLOCK_ROWS):
            part = slice(start, start + SPARSE_BLOCK_ROWS)
            ids_part, part_rows = user_ids[part], rows[part]
            listed, votes = [], []
            for component, weight in zip(self.components, self._weights(), strict=True):
                if not weight:
                    continue
                if fold and component.can_fold_in:
                    ids, _ = component.recommend(
                        ids_part, part_rows, depth, exclude_seen, recalculate=True
                    )
                else:
                    ids, _ = component.recommend(ids_part, part_rows, depth, exclude_seen)
                listed.append(ids)
                votes.append(np.where(ids >= 0, np.float64(weight) * votes_by_rank, 0.0))
            fused = _summed_votes(np.hstack(listed), np.hstack(votes), self.n_items)
            found[part], best[part], enough[part] = top_k_positive(fused, k)
        short = np.flatnonzero(~enough)
        if len(short):

            def scorer(ids: np.ndarray, block: sp.csr_matrix) -> np.ndarray:
                return self._scores(ids, block, fold=fold, played_last=exclude_seen, depth=depth)

            found[short], best[short] = self._rank(
                user_ids[short], rows[short], k, exclude_seen, scorer
            )
        return found, best

    def _folded_scores(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        return self._scores(user_ids, user_items, fold=True)

    def _scores(
        self,
        user_ids: np.ndarray,
        user_items: sp.csr_matrix,
        fold: bool = False,
        played_last: bool = True,
        depth: int | None = None,
    ) -> np.ndarray:
        """The fused scores; `played_last`: rank fusion ranks only the unplayed items (what
        is recommended when played items are excluded), else every item; `depth`: rank
        fusion votes for each component's `depth` best items only (None: every item)."""
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
                c = self.params["rrf_c"]
                if depth is None or depth >= self.n_items:
                    total += weight * reciprocal_ranks(scores, played, c)
                else:
                    total += weight * top_reciprocal_ranks(scores, played, c, depth)
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
