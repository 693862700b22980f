from django.apps import AppConfig


class RecommenderConfig(AppConfig):
    name = "recommender"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.db.models.signals import post_delete, post_save, pre_delete
        from rest_framework.authtoken.models import Token

        from .fast_reads import forget_tokens_of

        post_delete.connect(forget_tokens_of, sender=Token, dispatch_uid="fast-reads-token")
        post_save.connect(forget_tokens_of, sender=get_user_model(), dispatch_uid="fast-reads-user")
        pre_delete.connect(
            forget_tokens_of, sender=get_user_model(), dispatch_uid="fast-reads-gone"
        )
