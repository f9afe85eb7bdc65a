"""Production settings plus the benchmark's bare view: ``DJANGO_SETTINGS_MODULE=bench._bench_settings``.

Only the URLconf differs (``bench._bare_urls`` = the production URLs and ``POST /bench/bare``); DEBUG, the
middleware, sessions, CSRF and the database are exactly those of ``linli.config.settings``, from the same
environment. The production URLs are not touched.
"""

from linli.config.settings import *  # noqa: F403

ROOT_URLCONF = "bench._bare_urls"
