import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linli.config.settings")
application = get_wsgi_application()

# Refuse to serve with another LINLI_CIPHER or LINLI_DATA_KEY than the database was started with (ADR 0020).
from linli.core.installation import require_match  # noqa: E402  (needs the configured Django above)

require_match()
