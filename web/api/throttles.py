"""DRF's rate limits, counted in the cache, but never a reason to fail a request: with the
cache down, requests are let through (and it is logged) rather than answered with a 500."""

import logging

from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

log = logging.getLogger(__name__)


class _Tolerant:
    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)  # type: ignore[misc]
        except Exception:  # the cache is down: serve without counting
            log.warning("rate limit not checked: the cache is unavailable", exc_info=True)
            return True


class TolerantAnonRateThrottle(_Tolerant, AnonRateThrottle):
    pass


class TolerantUserRateThrottle(_Tolerant, UserRateThrottle):
    pass
