from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularSwaggerSplitView,
)
from rest_framework.routers import SimpleRouter

from . import (
    catalog_pages,
    evaluation_pages,
    exploration_pages,
    health,
    import_files,
    listening_pages,
    operations,
)
from .accounts import sign_out_everywhere, signup
from .api.catalog import ArtistViewSet, ChartsView, SongViewSet
from .api.errors import api_not_found
from .api.listening import MyFeedbackUndoView, MyFeedbackView, MyListensView
from .api.recommendations import MyRecommendationsView
from .api.tokens import LogoutAllView, LogoutView, TokenView
from .home import home

router = SimpleRouter()
router.register("songs", SongViewSet, basename="song")
router.register("artists", ArtistViewSet, basename="artist")

api_v1 = [
    path("auth/token/", TokenView.as_view(), name="token"),
    path("auth/logout/", LogoutView.as_view(), name="logout"),
    path("auth/logout-all/", LogoutAllView.as_view(), name="logout-all"),
    path("me/recommendations/", MyRecommendationsView.as_view(), name="my-recommendations"),
    path("me/listens/", MyListensView.as_view(), name="my-listens"),
    path("me/feedback/", MyFeedbackView.as_view(), name="my-feedback"),
    path(
        "me/feedback/songs/<int:item_id>/",
        MyFeedbackUndoView.as_view(level="song"),
        name="my-feedback-song",
    ),
    path(
        "me/feedback/artists/<int:item_id>/",
        MyFeedbackUndoView.as_view(level="artist"),
        name="my-feedback-artist",
    ),
    path("charts/", ChartsView.as_view(), name="charts"),
    path("schema/", SpectacularAPIView.as_view(api_version="1"), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-v1:schema"), name="docs"),
    *router.urls,
]

staff = [
    path("exploration/", exploration_pages.exploration_list, name="exploration-list"),
    path("exploration/new/", exploration_pages.exploration_create, name="exploration-create"),
    path(
        "exploration/<int:report_id>/",
        exploration_pages.exploration_detail,
        name="exploration-detail",
    ),
    # Uploaded and rejected rows: people's data, served only here (no public media, ever).
    path(
        "imports/<int:batch_id>/rejected.csv",
        import_files.import_rejected,
        name="import-rejected",
    ),
    path(
        "imports/<int:batch_id>/upload/<int:number>",
        import_files.import_upload,
        name="import-upload",
    ),
    path("operations/", operations.operations, name="operations"),
    path("operations/act/", operations.operations_action, name="operations-action"),
    path("evaluations/", evaluation_pages.evaluation_list, name="evaluation-list"),
    path("evaluations/new/", evaluation_pages.evaluation_start, name="evaluation-start"),
    path(
        "evaluations/<int:evaluation_id>/",
        evaluation_pages.evaluation_detail,
        name="evaluation-detail",
    ),
]

urlpatterns = [
    path("", home, name="home"),
    path("accounts/signup/", signup, name="signup"),
    path("accounts/sign-out-everywhere/", sign_out_everywhere, name="sign-out-everywhere"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("search/", catalog_pages.search, name="search"),
    path("songs/<int:song_id>/", catalog_pages.song_page, name="song"),
    path("songs/<int:song_id>/listened/", listening_pages.song_listened, name="song-listened"),
    path("artists/<int:artist_id>/", catalog_pages.artist_page, name="artist"),
    path("feedback/", listening_pages.give_feedback, name="feedback"),
    path("me/listening/", listening_pages.my_listening, name="my-listening"),
    path("welcome/", listening_pages.onboarding, name="onboarding"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("staff/", include(staff)),
    path("api/v1/", include((api_v1, "api-v1"))),
    path("api/schema/", SpectacularAPIView.as_view(api_version="1"), name="api-schema"),
    # The split view serves its start-up script as a file of its own, not inline (the CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^api/", api_not_found),  # last: whatever no endpoint above matched
]

# Server errors on /api/ answer in the API's error body too (pages keep the site's page).
handler500 = "web.api.errors.server_error"

admin.site.site_header = "musicsite operations"
admin.site.site_title = "musicsite admin"
