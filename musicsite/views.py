from django.http import HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and answering; says nothing about its services."""
    return JsonResponse({"status": "ok"})
