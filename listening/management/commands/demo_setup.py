from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from listening.models import Listener
from listening.services import account_create

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "listen-to-more-music"


class Command(BaseCommand):
    help = "Create (or reset) the demo login, a staff account with a listener, and print it."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("demo_setup makes a login with a published password: DEBUG only.")
        user = get_user_model().objects.filter(username=DEMO_USERNAME).first()
        if user is None:
            account_create(username=DEMO_USERNAME, password=DEMO_PASSWORD, is_staff=True)
        else:
            user.set_password(DEMO_PASSWORD)
            user.is_staff = user.is_superuser = True
            user.save()
            Listener.objects.for_user(user)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo login: username '{DEMO_USERNAME}', password '{DEMO_PASSWORD}' "
                "(http://127.0.0.1:8000/admin/)"
            )
        )
