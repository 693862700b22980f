from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import SimpleRouter

from catalog import pages as catalog_pages
from catalog.api import ArtistViewSet, ChartsView, SongViewSet
from listening import pages as listening_pages
from listening.api import MyFeedbackView, MyListensView
from recommender.api import MyRecommendationsView
from recommender.pages import home

from . import views
from .accounts import signup
from .api_errors import api_not_found

router = SimpleRouter()
router.register("songs", SongViewSet, basename="song")
router.register("artists", ArtistViewSet, basename="artist")

api_v1 = [
    path("auth/token/", obtain_auth_token, name="token"),
    path("me/recommendations/", MyRecommendationsView.as_view(), name="my-recommendations"),
    path("me/listens/", MyListensView.as_view(), name="my-listens"),
    path("me/feedback/", MyFeedbackView.as_view(), name="my-feedback"),
    path("charts/", ChartsView.as_view(), name="charts"),
    path("schema/", SpectacularAPIView.as_view(api_version="1"), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-v1:schema"), name="docs"),
    *router.urls,
]

urlpatterns = [
    path("", home, name="home"),
    path("accounts/signup/", signup, name="signup"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("search/", catalog_pages.search, name="search"),
    path("songs/<int:song_id>/", catalog_pages.song_page, name="song"),
    path("songs/<int:song_id>/listened/", listening_pages.song_listened, name="song-listened"),
    path("artists/<int:artist_id>/", catalog_pages.artist_page, name="artist"),
    path("feedback/", listening_pages.give_feedback, name="feedback"),
    path("me/listening/", listening_pages.my_listening, name="my-listening"),
    path("welcome/", listening_pages.onboarding, name="onboarding"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("staff/", include("listening.urls")),
    path("staff/", include("recommender.urls")),
    path("api/v1/", include((api_v1, "api-v1"))),
    path("api/schema/", SpectacularAPIView.as_view(api_version="1"), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^api/", api_not_found),  # last: whatever no endpoint above matched
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

admin.site.site_header = "musicsite operations"
admin.site.site_title = "musicsite admin"
