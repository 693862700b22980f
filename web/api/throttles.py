"""DRF's door to the one rate limiter (web/ratelimit.py): the same counts, headers and 429
body as the ready first page, never a reason to fail a request (with the cache down the
request is let through, and it is logged)."""

from rest_framework.throttling import BaseThrottle

from web import ratelimit


class ApiRateThrottle(BaseThrottle):
    """The user rate for a signed-in caller (counted by account, whichever token or session
    it uses), the anonymous rate by address otherwise."""

    def allow_request(self, request, view) -> bool:
        user = request.user
        authenticated = bool(user and user.is_authenticated)
        limit, period = ratelimit.rate_for(authenticated=authenticated)
        key = ratelimit.client_key(request, user.pk if authenticated else None)
        decision = ratelimit.hit(key, limit, period)
        if decision is None:
            return True
        # The middleware (web/middleware.py) puts the RateLimit-* headers on the answer.
        request._request.rate_limit = decision
        self.decision = decision
        return decision.allowed

    def wait(self) -> float | None:
        return self.decision.retry_after
