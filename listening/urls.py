from django.urls import path

from . import views

urlpatterns = [
    path("exploration/", views.exploration_list, name="exploration-list"),
    path("exploration/new/", views.exploration_create, name="exploration-create"),
    path("exploration/<int:report_id>/", views.exploration_detail, name="exploration-detail"),
]
