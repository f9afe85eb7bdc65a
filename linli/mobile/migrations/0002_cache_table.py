"""The database cache's table (``linli_cache``): the rate limits of the public pages count in the cache, which is
the database when no Redis is configured (``CACHES`` in ``linli.config.settings``). ``createcachetable`` does
nothing for a Redis cache and nothing when the table exists, so this is safe to run anywhere; a deployment that
later drops Redis runs ``linli manage createcachetable`` once."""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("mobile", "0001_wish_category")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop, elidable=True)]
