from django.urls import path

from . import dashboard, views

urlpatterns = [
    path("operations/", dashboard.operations, name="operations"),
    path("operations/act/", dashboard.operations_action, name="operations-action"),
    path("evaluations/", views.evaluation_list, name="evaluation-list"),
    path("evaluations/new/", views.evaluation_start, name="evaluation-start"),
    path("evaluations/<int:evaluation_id>/", views.evaluation_detail, name="evaluation-detail"),
]
