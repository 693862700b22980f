"""The files of an import, for staff only: what was uploaded and the rows it rejected.

Uploaded listening histories are people's data, so nothing under MEDIA_ROOT is served
publicly, in any mode (web/urls.py serves no media). These views stream one file of one
batch to a staff member who may view imports, as an attachment under the file's own name,
never sniffed into a page, and never from a path that resolves outside MEDIA_ROOT. To anyone
else they answer 404, as if there were no such file: a batch's id says nothing.
"""

from pathlib import Path

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.http import FileResponse, Http404, HttpRequest
from django.shortcuts import get_object_or_404

from listening.listen_upload import listen_upload_files
from listening.models import ImportBatch


def _batch_for(request: HttpRequest, batch_id: int) -> ImportBatch:
    user = request.user
    if not (user.is_active and user.is_staff and user.has_perm("listening.view_importbatch")):
        raise Http404("No such file.")
    return get_object_or_404(ImportBatch, pk=batch_id)


def _attachment(path: Path, name: str, content_type: str) -> FileResponse:
    root = Path(settings.MEDIA_ROOT).resolve()
    if path.is_symlink() or not path.is_file() or not path.resolve().is_relative_to(root):
        raise Http404("No such file.")
    response = FileResponse(
        path.open("rb"), as_attachment=True, filename=name, content_type=content_type
    )
    # An uploaded file is whatever its sender wrote: never let a browser run it as a page.
    response["X-Content-Type-Options"] = "nosniff"
    return response


def import_rejected(request: HttpRequest, batch_id: int) -> FileResponse:
    """The rows an import dropped, with their line and reason (CSV)."""
    batch = _batch_for(request, batch_id)
    if not batch.rejected_file:
        raise Http404("No rejected rows for this import.")
    try:
        path = Path(batch.rejected_file.path)
    except SuspiciousFileOperation:  # a stored name that climbs out of MEDIA_ROOT
        raise Http404("No such file.") from None
    return _attachment(path, f"import-{batch.pk}-rejected.csv", "text/csv")


def import_upload(request: HttpRequest, batch_id: int, number: int) -> FileResponse:
    """The `number`th file uploaded for an import (0: the plays), under its uploaded name."""
    batch = _batch_for(request, batch_id)
    files = listen_upload_files(batch)
    if number >= len(files):
        raise Http404("No such file for this import.")
    return _attachment(files[number], files[number].name, "application/octet-stream")
