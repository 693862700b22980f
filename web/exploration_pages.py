"""Staff pages: exploration reports of the listening data."""

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from listening import tasks
from listening.exploration.report import exploration_report_create
from listening.models import ExplorationReport


@staff_member_required
def exploration_list(request: HttpRequest) -> HttpResponse:
    reports = ExplorationReport.objects.select_related("snapshot").defer("charts", "figures")
    page = Paginator(reports, 20).get_page(request.GET.get("page"))
    return render(request, "listening/exploration_list.html", {"page": page})


@staff_member_required
def exploration_detail(request: HttpRequest, report_id: int) -> HttpResponse:
    report = get_object_or_404(ExplorationReport.objects.select_related("snapshot"), pk=report_id)
    return render(request, "listening/exploration_detail.html", {"report": report})


@staff_member_required
@require_POST
def exploration_create(request: HttpRequest) -> HttpResponse:
    report = exploration_report_create(created_by=request.user)
    tasks.exploration_report_run.delay_on_commit(report.pk)
    messages.info(request, f"Exploration report {report.pk} is queued.")
    return redirect("exploration-detail", report_id=report.pk)
