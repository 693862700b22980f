"""Neural collaborative filtering: NeuMF (He et al. 2017) in PyTorch, on the CPU (no Django).

Optional: this module imports torch, and the package registers it only when torch is installed.
"""

from collections.abc import Mapping
from itertools import pairwise
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from .base import Recommender

# Listener-item pairs pushed through the MLP at once when scoring (about 16 MB per layer of 16).
SCORE_PAIRS = 262_144


class NeuMFNetwork(nn.Module):
    """GMF and MLP towers over their own embeddings, concatenated into one logit."""

    def __init__(self, n_users: int, n_items: int, factors: int, layers: list[int]) -> None:
        super().__init__()
        half = layers[0] // 2
        self.user_gmf = nn.Embedding(n_users, factors)
        self.item_gmf = nn.Embedding(n_items, factors)
        self.user_mlp = nn.Embedding(n_users, half)
        self.item_mlp = nn.Embedding(n_items, half)
        for embedding in (self.user_gmf, self.item_gmf, self.user_mlp, self.item_mlp):
            nn.init.normal_(embedding.weight, std=0.01)
        self.first = nn.Linear(layers[0], layers[1])
        tower: list[nn.Module] = [nn.ReLU()]
        for width, narrower in pairwise(layers[1:]):
            tower += [nn.Linear(width, narrower), nn.ReLU()]
        self.tower = nn.Sequential(*tower)
        self.output = nn.Linear(factors + layers[-1], 1)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        gmf = self.user_gmf(users) * self.item_gmf(items)
        pair = torch.cat([self.user_mlp(users), self.item_mlp(items)], dim=1)
        mlp = self.tower(self.first(pair))
        return self.output(torch.cat([gmf, mlp], dim=1)).squeeze(1)

    @torch.no_grad()
    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        """Logits of the given listeners for every item (len(users) x n_items).

        The first MLP layer splits into a listener part and an item part, so all pairs come
        from broadcasting their sum instead of concatenating every pair.
        """
        n_items, half = self.item_mlp.num_embeddings, self.item_mlp.embedding_dim
        factors = self.user_gmf.embedding_dim
        weight_gmf, weight_mlp = self.output.weight[0].split(
            [factors, self.output.in_features - factors]
        )
        gmf = (self.user_gmf(users) * weight_gmf) @ self.item_gmf.weight.T
        from_user = self.user_mlp(users) @ self.first.weight[:, :half].T + self.first.bias
        from_item = self.item_mlp.weight @ self.first.weight[:, half:].T
        hidden = (from_user[:, None, :] + from_item[None, :, :]).reshape(-1, from_item.shape[1])
        mlp = self.tower(hidden) @ weight_mlp
        return gmf + mlp.reshape(len(users), n_items) + self.output.bias


class NCF(Recommender):
    """Neural matrix factorisation of implicit feedback (played = 1, a sampled unplayed = 0).

    Params: `factors` (GMF embedding size), `layers` (MLP widths, two or more; the first is split
    between listener and item embeddings, so it must be even), `epochs`, `batch_size`,
    `learning_rate` (Adam) and `n_negatives` unplayed items sampled per played one, afresh each
    epoch. Confidence values only decide which cells are positive. Training is seeded
    (`torch.manual_seed` and a seeded generator for negatives and shuffles) and runs on one
    thread, so the same seed gives the same model. Scores are logits; listeners must be known.
    """

    needs_known_listeners: ClassVar[bool] = True

    name: ClassVar[str] = "ncf"
    defaults: ClassVar[Mapping[str, Any]] = {
        "factors": 16,
        "layers": [64, 32, 16],
        "epochs": 5,
        "batch_size": 4096,
        "learning_rate": 0.001,
        "n_negatives": 4,
    }

    def __init__(self, *, seed: int = 0, **params: Any) -> None:
        super().__init__(seed=seed, **params)
        self.params["layers"] = [int(width) for width in self.params["layers"]]
        layers = self.params["layers"]
        if len(layers) < 2 or layers[0] % 2:
            raise ValueError(
                "ncf layers needs two widths or more, the first even: it is the listener and "
                "item MLP embeddings side by side"
            )
        self.n_users = 0
        self.network: NeuMFNetwork | None = None

    def fit(self, user_items: sp.csr_matrix) -> Self:
        matrix = sp.csr_matrix(user_items, dtype=np.float32)
        matrix.eliminate_zeros()
        self.n_users, self.n_items = matrix.shape
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            torch.manual_seed(self.seed)
            self.network = self._new_network()
            self._train(matrix)
        finally:
            torch.set_num_threads(threads)
        self.fitted = True
        return self

    def _new_network(self) -> NeuMFNetwork:
        return NeuMFNetwork(
            self.n_users, self.n_items, self.params["factors"], self.params["layers"]
        )

    def _train(self, matrix: sp.csr_matrix) -> None:
        assert self.network is not None
        generator = torch.Generator().manual_seed(self.seed)
        positives = matrix.tocoo()
        users = torch.from_numpy(positives.row.astype(np.int64))
        items = torch.from_numpy(positives.col.astype(np.int64))
        played = users * self.n_items + items  # sorted: CSR order is row-major
        n_negatives = self.params["n_negatives"]
        optimiser = torch.optim.Adam(self.network.parameters(), lr=self.params["learning_rate"])
        loss_function = nn.BCEWithLogitsLoss()
        self.network.train()
        for _ in range(self.params["epochs"]):
            negative_users = users.repeat_interleave(n_negatives)
            negative_items = torch.randint(
                self.n_items, negative_users.shape, generator=generator, dtype=torch.int64
            )
            # Drop the few samples that hit a played item rather than loop to replace them.
            keys = negative_users * self.n_items + negative_items
            found = torch.searchsorted(played, keys).clamp(max=len(played) - 1)
            unplayed = played[found] != keys
            all_users = torch.cat([users, negative_users[unplayed]])
            all_items = torch.cat([items, negative_items[unplayed]])
            labels = torch.cat([torch.ones(len(users)), torch.zeros(int(unplayed.sum()))])
            order = torch.randperm(len(labels), generator=generator)
            for start in range(0, len(order), self.params["batch_size"]):
                batch = order[start : start + self.params["batch_size"]]
                optimiser.zero_grad()
                logits = self.network(all_users[batch], all_items[batch])
                loss_function(logits, labels[batch]).backward()
                optimiser.step()
        self.network.eval()

    def _scores(self, user_ids: np.ndarray, user_items: sp.csr_matrix) -> np.ndarray:
        assert self.network is not None
        self._check_known_users(user_ids, self.n_users)
        users = torch.from_numpy(np.asarray(user_ids, dtype=np.int64))
        chunk = max(1, SCORE_PAIRS // max(self.n_items, 1))
        blocks = [
            self.network.score_all(users[start : start + chunk])
            for start in range(0, len(users), chunk)
        ]
        if not blocks:
            return np.zeros((0, self.n_items), dtype=np.float32)
        return torch.cat(blocks).numpy()

    def _state(self) -> dict[str, np.ndarray]:
        assert self.network is not None
        weights = {f"net.{key}": value.numpy() for key, value in self.network.state_dict().items()}
        return {"shape": np.array([self.n_users, self.n_items]), **weights}

    def _restore(self, state: Mapping[str, np.ndarray]) -> None:
        self.n_users, self.n_items = (int(size) for size in state["shape"])
        self.network = self._new_network()
        self.network.load_state_dict(
            {
                key[4:]: torch.from_numpy(value)
                for key, value in state.items()
                if key.startswith("net.")
            }
        )
        self.network.eval()
