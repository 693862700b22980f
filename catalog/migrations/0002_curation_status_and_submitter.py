# Curation: who may see an artist or song (existing rows stay public: the default).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('catalog', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='artist',
            name='status',
            field=models.CharField(choices=[('pending', 'pending (its submitter only)'), ('public', 'public'), ('hidden', 'hidden')], default='public', max_length=8),
        ),
        migrations.AddField(
            model_name='artist',
            name='submitted_by',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='song',
            name='status',
            field=models.CharField(choices=[('pending', 'pending (its submitter only)'), ('public', 'public'), ('hidden', 'hidden')], default='public', max_length=8),
        ),
        migrations.AddField(
            model_name='song',
            name='submitted_by',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddIndex(
            model_name='artist',
            index=models.Index(fields=['submitted_by', 'created_at'], name='artist_submitted'),
        ),
        migrations.AddIndex(
            model_name='song',
            index=models.Index(fields=['submitted_by', 'created_at'], name='song_submitted'),
        ),
    ]
