import pytest
from django.db import IntegrityError, transaction

from recommender.models import SetStatus
from tests.factories import ListenerRecommendationsFactory, RecommendationSetFactory


@pytest.mark.django_db
def test_only_one_set_is_active_at_a_time():
    RecommendationSetFactory(status=SetStatus.ACTIVE)
    RecommendationSetFactory.create_batch(2, status=SetStatus.RETIRED)
    with pytest.raises(IntegrityError), transaction.atomic():
        RecommendationSetFactory(status=SetStatus.ACTIVE)


@pytest.mark.django_db
def test_a_listener_has_one_row_per_level_in_a_set():
    row = ListenerRecommendationsFactory(level="song")
    ListenerRecommendationsFactory(
        recommendation_set=row.recommendation_set, listener=row.listener, level="artist"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        ListenerRecommendationsFactory(
            recommendation_set=row.recommendation_set, listener=row.listener, level="song"
        )
