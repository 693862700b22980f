"""factory_boy factories for every model, used across the suite."""

from datetime import UTC

import factory
from django.contrib.auth import get_user_model

from catalog.models import Artist, Release, Song
from listening.models import (
    DataSnapshot,
    ExplorationReport,
    Feedback,
    ImportBatch,
    Listen,
    Listener,
    Skip,
    SubmittedListen,
)
from recommender.models import (
    Evaluation,
    ListenerRecommendations,
    ModelRun,
    RecommendationSet,
    SimilarItems,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("password")


class StaffFactory(UserFactory):
    is_staff = True
    is_superuser = True


class ArtistFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Artist

    name = factory.Sequence(lambda n: f"Artist {n}")


class ReleaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Release

    title = factory.Sequence(lambda n: f"Release {n}")
    artist = factory.SubFactory(ArtistFactory)


class SongFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Song

    title = factory.Sequence(lambda n: f"Song {n}")
    artist = factory.SubFactory(ArtistFactory)


class ListenerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Listener

    source = "test"
    external_id = factory.Sequence(lambda n: f"listener-{n}")


class ImportBatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ImportBatch

    source_name = factory.Sequence(lambda n: f"file-{n}.tsv")


class ListenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Listen

    listener = factory.SubFactory(ListenerFactory)
    song = factory.SubFactory(SongFactory)
    artist = factory.SelfAttribute("song.artist")
    play_count = 1


class SkipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Skip

    listener = factory.SubFactory(ListenerFactory)
    song = factory.SubFactory(SongFactory)
    skipped_at = factory.Faker("date_time_between", start_date="-2y", tzinfo=UTC)
    ms_played = 12_000


class FeedbackFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Feedback

    listener = factory.SubFactory(ListenerFactory)
    song = factory.SubFactory(SongFactory)
    kind = "not_for_me"


class SubmittedListenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SubmittedListen

    listen = factory.SubFactory(ListenFactory)
    listener = factory.SelfAttribute("listen.listener")
    client_id = factory.Sequence(lambda n: f"client-{n}")


class DataSnapshotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DataSnapshot

    listens = play_total = listeners = songs = artists = 0


class ModelRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelRun

    algorithm = "popularity"
    snapshot = factory.SubFactory(DataSnapshotFactory)


class RecommendationSetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RecommendationSet

    run = factory.SubFactory(ModelRunFactory)


class ListenerRecommendationsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ListenerRecommendations

    recommendation_set = factory.SubFactory(RecommendationSetFactory)
    listener = factory.SubFactory(ListenerFactory)
    level = "song"
    item_ids = [1, 2, 3]
    scores = [0.9, 0.5, 0.1]
    reasons = [None, None, None]


class SimilarItemsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SimilarItems

    recommendation_set = factory.SubFactory(RecommendationSetFactory)
    level = "song"
    item_id = 1
    item_ids = [2, 3]
    scores = [0.8, 0.4]


class EvaluationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Evaluation

    algorithms = {"popularity": {}}
    protocol = {"split": "random", "ks": [10]}


class ExplorationReportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExplorationReport
