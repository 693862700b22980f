"""The model zoo: every recommender behind one interface (`base.Recommender`), no Django.

`create("als", factors=32, seed=1)` builds a model by name, `load(path)` reads back whichever
model a file holds. The neural model (`ncf`) is registered only when PyTorch is installed
(`pip install -e ".[neural]"`). `blend` sums the normalised scores of several of the others;
`sparse_ease` is EASE for catalogues too large for EASE's dense matrix.

implicit's models warn, and run slowly, when BLAS may start its own threads; the modules
that call implicit wrap it in `threadpoolctl.threadpool_limits(1, "blas")`, so that holds
whatever the environment sets (Django's settings also set OPENBLAS_NUM_THREADS=1, but this
package must not depend on Django having loaded first).
"""

from pathlib import Path

from .als import ALS
from .base import ALGORITHMS, NotSupported, Recommender, create
from .blend import Blend
from .bpr import BPR
from .ease import EASE
from .item_knn import ItemKNN
from .popularity import Popularity
from .rating import RatingMF
from .rp3beta import RP3Beta
from .sparse_ease import SparseEASE

ALGORITHMS.update(
    {
        model.name: model
        for model in (Popularity, ItemKNN, RP3Beta, ALS, BPR, EASE, RatingMF, SparseEASE, Blend)
    }
)

try:
    import torch  # noqa: F401
except ImportError:  # the neural model is optional
    HAS_TORCH = False
else:
    HAS_TORCH = True
    from .ncf import NCF

    ALGORITHMS[NCF.name] = NCF


def load(path: Path) -> Recommender:
    """The model saved at `path`, whichever algorithm it is."""
    return Recommender.load(path)


__all__ = ["ALGORITHMS", "HAS_TORCH", "NotSupported", "Recommender", "create", "load"]
