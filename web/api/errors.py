"""One error body for every API failure, and its description in the OpenAPI schema.

Every error is {"error": {"status": 400, "code": "invalid", "message": "...", "details":
...}}: `code` is stable for programs, `message` is for people, `details` holds per-field or
per-item errors when there are any.
"""

from django.http import HttpResponse, JsonResponse
from django.views import csrf, defaults
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.response import Response
from rest_framework.views import exception_handler

ERROR_BODY = inline_serializer(
    "Error",
    {
        "error": inline_serializer(
            "ErrorDetail",
            {
                "status": serializers.IntegerField(),
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "details": serializers.JSONField(required=False),
            },
        )
    },
)


def _response(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ERROR_BODY, description=description)


# The errors any endpoint may answer with, for `extend_schema(responses=...)`.
ERRORS = {
    400: _response("Invalid request: `details` says what and where."),
    401: _response("Not signed in: send `Authorization: Token <key>`."),
    403: _response("Signed in, but not allowed."),
    404: _response("No such object."),
    405: _response("The endpoint does not take this method."),
    413: _response("The body is too large."),
    415: _response("The body's format is not accepted: send JSON (application/json)."),
    429: _response("Too many requests: retry after the `Retry-After` header's seconds."),
}


CODES_BY_STATUS = {403: "permission_denied", 404: "not_found"}


def _message(data) -> str:
    if isinstance(data, dict) and isinstance(data.get("detail"), str):
        return data["detail"]
    if isinstance(data, list) and data and isinstance(data[0], str):
        return data[0]
    return "The request is invalid: see details."


def api_exception_handler(exc, context):
    """DRF's handler, with its body wrapped in the one error shape."""
    if isinstance(exc, RecursionError):
        # Python's json recursing on deep nesting, in a view whose parsers are not ours
        # (BoundedJSONParser answers it itself): the client's error, not the server's.
        exc = ParseError("JSON parse error - the body is nested too deeply")
    response = exception_handler(exc, context)
    if response is None:
        return None
    data = response.data
    # Django's Http404 and PermissionDenied reach here unconverted: name them by status.
    code = getattr(exc, "default_code", None) or CODES_BY_STATUS.get(response.status_code, "error")
    codes = getattr(exc, "get_codes", None)
    if callable(codes):
        found = codes()
        if isinstance(found, str):
            code = found
    error = {"status": response.status_code, "code": code, "message": _message(data)}
    if response.status_code == status.HTTP_400_BAD_REQUEST or not (
        isinstance(data, dict) and set(data) <= {"detail"}
    ):
        error["details"] = data
    response.data = {"error": error}
    return response


def error_response(status_code: int, code: str, message: str, details=None) -> Response:
    """The error body for errors raised outside DRF's exceptions (details kept as given:
    DRF's ValidationError would turn every value into text)."""
    error = {"status": status_code, "code": code, "message": message}
    if details is not None:
        error["details"] = details
    return Response({"error": error}, status=status_code)


class ErrorsDocumentedSchema(AutoSchema):
    """drf-spectacular's schema, with the error answers every operation may give (ERRORS)
    added to whatever the operation documents itself."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction == "response":
            for code, response in ERRORS.items():
                if str(code) not in responses:
                    responses[str(code)] = self._get_response_for_code(
                        response, str(code), direction=direction
                    )
        return responses


def is_api(request) -> bool:
    return request.path_info.startswith("/api/")


def json_error(status_code: int, code: str, message: str) -> JsonResponse:
    """The error body outside DRF's views (its JsonResponse escapes every non-ASCII
    character, so nothing a client sent can make it fail to encode)."""
    error = {"status": status_code, "code": code, "message": message}
    return JsonResponse({"error": error}, status=status_code)


# Exempt: it changes nothing, and an unsafe method on a mistyped /api/ address (a DELETE
# with a token) must get this 404, not Django's HTML "CSRF verification failed" page.
@csrf_exempt
def api_not_found(request, *args, **kwargs) -> JsonResponse:
    """Any /api/ address that names no endpoint (an id that is not a number, a typo): the
    API's error body, not the site's HTML page."""
    return json_error(404, "not_found", f"No endpoint at {request.path}.")


def csrf_failure(request, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: on /api/ the error body (a browser session's unsafe request without
    its CSRF token; requests with a token need none), elsewhere Django's own page."""
    if not is_api(request):
        return csrf.csrf_failure(request, reason=reason)
    message = (
        f"CSRF check failed ({reason}). A signed-in browser session must send the "
        "X-CSRFToken header; requests with `Authorization: Token <key>` need none."
    )
    return json_error(403, "csrf_failed", message)


def server_error(request) -> HttpResponse:
    """handler500: the error body on /api/, the site's page elsewhere."""
    if is_api(request):
        return json_error(500, "server_error", "Something went wrong on our side.")
    return defaults.server_error(request)


def too_large(request, limit: int) -> HttpResponse:
    """413 for a body over DATA_UPLOAD_MAX_MEMORY_SIZE (Django itself would answer an HTML
    400 when the body is read, or DRF read it unbounded)."""
    message = f"The request body is larger than {limit:,} bytes."
    if is_api(request):
        return json_error(413, "too_large", message)
    return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
