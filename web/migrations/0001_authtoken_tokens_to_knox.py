"""DRF's authtoken kept each token in the clear; knox keeps only its SHA-512 digest.

Knox finds a token by its first 15 characters and checks the digest of the whole, which
works for the 40-character keys DRF issued as well as for its own: so each old token is
carried over (hashed, and given knox's expiry from now), clients keep working until then,
and the table of raw tokens is dropped. A database that never had authtoken is left as it
is.
"""

from django.db import migrations
from django.utils import timezone


def carry_over(apps, schema_editor):
    from knox.crypto import hash_token
    from knox.settings import CONSTANTS, knox_settings

    connection = schema_editor.connection
    if "authtoken_token" not in connection.introspection.table_names():
        return
    AuthToken = apps.get_model("knox", "AuthToken")
    expiry = timezone.now() + knox_settings.TOKEN_TTL
    with connection.cursor() as cursor:
        cursor.execute("SELECT key, user_id FROM authtoken_token")
        rows = cursor.fetchall()
    AuthToken.objects.bulk_create(
        (
            AuthToken(
                digest=hash_token(key),
                token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH],
                user_id=user_id,
                expiry=expiry,
            )
            for key, user_id in rows
        ),
        batch_size=5_000,
    )
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE authtoken_token")
        # authtoken is no longer installed: its migrations' records would only mislead.
        cursor.execute("DELETE FROM django_migrations WHERE app = 'authtoken'")


class Migration(migrations.Migration):
    dependencies = [("knox", "0009_extend_authtoken_field")]

    operations = [migrations.RunPython(carry_over, migrations.RunPython.noop)]
