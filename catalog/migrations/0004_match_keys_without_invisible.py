"""Refold the stored match keys that hold invisible format characters (bidi overrides,
zero-width joiners...), which `catalog.names.match_key` drops since 0002's curation: a key
kept with them would never match the same name submitted now, and the catalogue would grow
a duplicate. Only the rows holding such a character are read (one regex scan per table)."""

from django.db import migrations

from catalog.names import INVISIBLE, match_key

KEYS = {"Artist": ("name", "name_key"), "Release": ("title", "title_key"), "Song": ("title", "title_key")}
# One bracket expression of every invisible character; Python's re (SQLite's REGEXP) and
# PostgreSQL's regular expressions read it alike.
PATTERN = "[" + "".join(chr(codepoint) for codepoint in INVISIBLE) + "]"


def refold(apps, schema_editor):
    for model_name, (name, key) in KEYS.items():
        model = apps.get_model("catalog", model_name)
        rows = list(model.objects.filter(**{f"{key}__regex": PATTERN}).only(name, key))
        for row in rows:
            setattr(row, key, match_key(getattr(row, name)))
        model.objects.bulk_update(rows, [key], batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0003_name_trigram_indexes")]

    operations = [migrations.RunPython(refold, migrations.RunPython.noop)]
