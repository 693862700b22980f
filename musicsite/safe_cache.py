"""The cache, tolerant of its own outage: a failed call is logged and treated as a miss.

Pages and the API read through the cache (Redis when configured); when Redis is down they
must still answer from the database, so every cache call goes through `attempt`.
"""

import logging
from collections.abc import Callable
from typing import Any

from django.core.cache import cache

log = logging.getLogger(__name__)


def attempt(operation: str, *args: Any, default: Any = None) -> Any:
    """cache.<operation>(*args), or `default` (logged) when the cache fails."""
    call: Callable[..., Any] = getattr(cache, operation)
    try:
        return call(*args)
    except Exception:  # any cache failure means "not cached"
        log.warning("cache %s failed; answering without the cache", operation, exc_info=True)
        return default
