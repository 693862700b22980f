# implicit and numpy's BLAS would otherwise start one thread per core inside every
# worker process and fight each other; the models parallelise on their own.
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

from .celery import app as celery_app

__all__ = ["celery_app"]
