"""Every admin page answers staff and keeps everyone else out."""

import pytest
from django.contrib import admin
from django.urls import reverse

from tests import factories

OUR_FACTORIES = {
    "catalog.artist": factories.ArtistFactory,
    "catalog.release": factories.ReleaseFactory,
    "catalog.song": factories.SongFactory,
    "listening.listener": factories.ListenerFactory,
    "listening.listen": factories.ListenFactory,
    "listening.importbatch": factories.ImportBatchFactory,
    "listening.skip": factories.SkipFactory,
    "listening.feedback": factories.FeedbackFactory,
    "listening.submittedlisten": factories.SubmittedListenFactory,
    "listening.datasnapshot": factories.DataSnapshotFactory,
    "recommender.modelrun": factories.ModelRunFactory,
    "recommender.recommendationset": factories.RecommendationSetFactory,
    "recommender.listenerrecommendations": factories.ListenerRecommendationsFactory,
    "recommender.similaritems": factories.SimilarItemsFactory,
    "recommender.evaluation": factories.EvaluationFactory,
    "listening.explorationreport": factories.ExplorationReportFactory,
    "auth.user": factories.UserFactory,
}
REGISTERED = sorted(admin.site._registry, key=lambda model: model._meta.label_lower)


def changelist_url(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change_url(obj) -> str:
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])


def test_every_model_of_ours_is_in_the_admin():
    ours = {m._meta.label_lower for m in REGISTERED if m._meta.app_label != "auth"}
    assert set(OUR_FACTORIES) - {"auth.user"} <= ours


@pytest.mark.django_db
@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m._meta.label_lower)
def test_it_shows_every_changelist_to_staff(client, model):
    factory = OUR_FACTORIES.get(model._meta.label_lower)
    if factory:
        factory.create_batch(2)
    client.force_login(factories.StaffFactory())

    response = client.get(changelist_url(model))

    assert response.status_code == 200
    if factory:
        assert response.context["cl"].result_count >= 1


@pytest.mark.django_db
@pytest.mark.parametrize("label", sorted(OUR_FACTORIES))
def test_it_shows_every_change_page_to_staff(client, label):
    obj = OUR_FACTORIES[label]()
    client.force_login(factories.StaffFactory())

    response = client.get(change_url(obj))

    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("model", REGISTERED, ids=lambda m: m._meta.label_lower)
def test_it_redirects_anonymous_visitors_to_the_login(client, model):
    response = client.get(changelist_url(model))

    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


@pytest.mark.django_db
def test_it_refuses_the_admin_to_a_listener_without_staff(client):
    client.force_login(factories.UserFactory())

    response = client.get(changelist_url(factories.ListenFactory._meta.model))

    assert response.status_code == 302


@pytest.mark.django_db
def test_it_finds_songs_by_title_prefix_and_by_external_id(client):
    wanted = factories.SongFactory(title="Paranoid Android", spotify_uri="spotify:track:6LgJv")
    factories.SongFactory(title="Karma Police")
    client.force_login(factories.StaffFactory())

    by_title = client.get(changelist_url(wanted._meta.model), {"q": "  PARANOID "})
    by_uri = client.get(changelist_url(wanted._meta.model), {"q": "spotify:track:6LgJv"})

    assert [song.pk for song in by_title.context["cl"].result_list] == [wanted.pk]
    assert [song.pk for song in by_uri.context["cl"].result_list] == [wanted.pk]


@pytest.mark.django_db
def test_it_finds_listens_by_listener_external_id(client):
    wanted = factories.ListenFactory(listener__external_id="user_000042")
    factories.ListenFactory()
    client.force_login(factories.StaffFactory())

    response = client.get(changelist_url(wanted._meta.model), {"q": "user_000042"})

    assert [listen.pk for listen in response.context["cl"].result_list] == [wanted.pk]
