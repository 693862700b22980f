"""Answers given before the rest of the middleware stack runs: the hottest request, and the
health checks."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from . import fast_reads, health
from .api.errors import is_api, too_large


class ReadyPagesMiddleware:
    """GET /api/v1/me/recommendations/ with a token whose first page is ready in the cache
    is answered here (see fast_reads), after the security middleware and before sessions,
    CSRF, auth and messages, which that answer does not use. Everything else passes on,
    and comes back with the rate limiter's RateLimit-* headers when DRF counted it (the
    fast path sets its own), so both paths answer with the same headers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.path: str | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self.path is None:
            self.path = reverse("api-v1:my-recommendations")
        if request.path == self.path:
            ready = fast_reads.fast_response(request)
            if ready is not None:
                return ready
        response = self.get_response(request)
        decision = getattr(request, "rate_limit", None)
        if decision is not None:
            for name, value in decision.headers().items():
                response.setdefault(name, value)
        return response


class HealthChecksMiddleware:
    """/healthz and /readyz answered whatever the Host header, before CommonMiddleware
    validates it against ALLOWED_HOSTS; everything else passes on.

    A probe (docker-compose's health check, a load balancer, a kubelet) asks by the
    container's address (127.0.0.1:8000), which is not a name the site is served under,
    and adding loopback names to ALLOWED_HOSTS would let every page answer to them. The
    Host check protects URLs built from the Host header (password-reset links, redirects);
    these two answers build none, so they are safe to give to any Host. It sits after
    SecurityMiddleware, whose SSL redirect skips them by SECURE_REDIRECT_EXEMPT (a probe
    speaks plain HTTP to the process, not through the TLS proxy)."""

    VIEWS = {"/healthz": health.healthz, "/readyz": health.readyz}

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = self.VIEWS.get(request.path_info)
        if view is not None and request.method in ("GET", "HEAD"):
            return view(request)
        return self.get_response(request)


class BodySizeMiddleware:
    """A body over DATA_UPLOAD_MAX_MEMORY_SIZE is answered 413 before anything reads it:
    JSON on /api/, a plain page elsewhere (Django alone answers an HTML 400 when the body is
    read, and DRF's parser reads the stream without that limit).

    Multipart bodies outside /api/ pass: their files do not count against the limit (the
    admin's import uploads are large by nature), and Django bounds their other fields."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and self._length(request) > limit:
            upload = request.content_type == "multipart/form-data"
            if is_api(request) or not upload:
                return too_large(request, limit)
        return self.get_response(request)

    @staticmethod
    def _length(request: HttpRequest) -> int:
        try:
            return int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:  # Django reads such a body as empty, and so do we
            return 0
