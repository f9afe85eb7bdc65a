"""Linli settings: everything comes from the environment; see docs/configuration.md."""

from __future__ import annotations

from pathlib import Path

import dj_database_url

from linli.config.env import data_dir, env_bool, env_float, env_int, env_str, secret_from_env_or_file

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = data_dir()

SECRET_KEY = secret_from_env_or_file("SECRET_KEY", DATA_DIR, "secret_key")
LINLI_DATA_KEY = secret_from_env_or_file("LINLI_DATA_KEY", DATA_DIR, "data_key")
# "aes" (AES-256-GCM + HMAC-SHA256) or "sm4" (SM4-GCM + HMAC-SM3, for 商用密码 assessments).
LINLI_CIPHER = env_str("LINLI_CIPHER", "aes").lower()

DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = [h for h in env_str("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver,[::1]").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in env_str("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",  # serves the API docs page's Swagger UI from its own static files, not a CDN
    "django_tasks",
    "django_tasks_db",
    "linli.core",
    "linli.accounts",
    "linli.audit",
    "linli.registry",
    "linli.org",
    "linli.notifications",
    "linli.cases",
    "linli.triage",
    "linli.metrics",
    "linli.console",
    "linli.api",
    "linli.open311",
    "linli.mobile",
    "linli.ops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "linli.accounts.middleware.IdleSessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "linli.config.urls"
WSGI_APPLICATION = "linli.config.wsgi.application"
ASGI_APPLICATION = "linli.config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

_default_db = f"sqlite:///{DATA_DIR / 'linli.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", _default_db),
        conn_max_age=env_int("LINLI_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
    }
# Tests on SQLite use a file (not shared-cache memory) so concurrent tests see real WAL locking with a busy timeout.
_test_default = str(DATA_DIR / "test.sqlite3") if DATABASES["default"]["ENGINE"].endswith("sqlite3") else None
DATABASES["default"]["TEST"] = {"NAME": env_str("LINLI_TEST_DB_NAME", "") or _test_default}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Background tasks (Django's tasks API through the django-tasks backport).
TASKS_BACKEND = env_str("LINLI_TASKS_BACKEND", "db")
TASKS = {
    "default": {
        "BACKEND": {
            "db": "django_tasks_db.DatabaseBackend",
            "rq": "django_tasks_rq.RQBackend",
            "immediate": "django_tasks.backends.immediate.ImmediateBackend",
        }[TASKS_BACKEND],
        "QUEUES": ["default", "imports"],
    }
}
if TASKS_BACKEND == "rq":
    INSTALLED_APPS.append("django_rq")
    RQ_QUEUES = {q: {"URL": REDIS_URL or "redis://127.0.0.1:6379/0"} for q in ("default", "imports")}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["linli.accounts.backends.LockoutModelBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "console:home"
LOGOUT_REDIRECT_URL = "accounts:login"
LINLI_LOCKOUT_THRESHOLD = env_int("LINLI_LOCKOUT_THRESHOLD", 5)
LINLI_LOCKOUT_MINUTES = env_int("LINLI_LOCKOUT_MINUTES", 15)

# Office hours in TIME_ZONE that working-hour deadlines count (see linli/core/workdays.py): "HH:MM-HH:MM,…".
LINLI_OFFICE_HOURS = env_str("LINLI_OFFICE_HOURS", "08:30-12:00,13:30-17:30")

# Idle session timeout: the cookie lives this long after the last request.
SESSION_COOKIE_AGE = env_int("LINLI_SESSION_IDLE_MINUTES", 30) * 60
# Idle timeout: the session is saved (and its expiry renewed) at most once per LINLI_SESSION_TOUCH_SECONDS by
# linli.accounts.middleware.IdleSessionMiddleware, instead of on every request.
LINLI_SESSION_TOUCH_SECONDS = env_int("LINLI_SESSION_TOUCH_SECONDS", 60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("LINLI_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media/"

# Ledger imports: bigger files are refused with a clear message.
LINLI_IMPORT_MAX_BYTES = env_int("LINLI_IMPORT_MAX_BYTES", 50 * 1024 * 1024)
LINLI_IMPORT_BATCH = env_int("LINLI_IMPORT_BATCH", 2000)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# A household not verified within this many days is shown as stale ("5项基础信息" are refreshed monthly).
LINLI_STALE_DAYS = env_int("LINLI_STALE_DAYS", 31)

# Notifications (linli.notifications): e-mail over SMTP when EMAIL_HOST is set, else printed to the console.
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)  # implicit TLS (port 465)
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", not EMAIL_USE_SSL)  # STARTTLS (port 587)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "邻里 <linli@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
LINLI_NOTIFY_MAX_ATTEMPTS = env_int("LINLI_NOTIFY_MAX_ATTEMPTS", 6)
LINLI_SMS_BACKEND = env_str("LINLI_SMS_BACKEND", "linli.notifications.sms.ConsoleSmsGateway")
LINLI_WEBHOOK_ALLOW_PRIVATE = env_bool("LINLI_WEBHOOK_ALLOW_PRIVATE", False)
# The address residents reach the site at: printed in QR codes and tracking links sent by SMS.
LINLI_PUBLIC_URL = env_str("LINLI_PUBLIC_URL", "")
# A TrueType/OpenType font with Chinese glyphs for the printed QR sheets ("" = look in common system paths).
LINLI_CJK_FONT = env_str("LINLI_CJK_FONT", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
}

# Smart triage: a classifier suggestion replaces the category defaults only at or above this confidence.
LINLI_TRIAGE_AUTO_CONFIDENCE = env_float("LINLI_TRIAGE_AUTO_CONFIDENCE", 0.8)
# … and then (unless switched off) the new appeal is triaged automatically, marked, and can be undone.
LINLI_TRIAGE_AUTO_ROUTE = env_bool("LINLI_TRIAGE_AUTO_ROUTE", True)
# Scheduled retrain from staff triage: once this many newly labelled cases exist and this many hours have passed.
LINLI_TRIAGE_RETRAIN_MIN_NEW = env_int("LINLI_TRIAGE_RETRAIN_MIN_NEW", 50)
LINLI_TRIAGE_RETRAIN_EVERY_HOURS = env_float("LINLI_TRIAGE_RETRAIN_EVERY_HOURS", 24.0)
LINLI_TRIAGE_TRAIN_MAX_ROWS = env_int("LINLI_TRIAGE_TRAIN_MAX_ROWS", 200_000)
# Duplicate detection: open appeals reported within this many days (either side), in the same building or grid or
# within this radius, scoring at least the minimum, are offered as possible duplicates.
LINLI_DUPLICATE_WINDOW_DAYS = env_int("LINLI_DUPLICATE_WINDOW_DAYS", 14)
LINLI_DUPLICATE_RADIUS_M = env_float("LINLI_DUPLICATE_RADIUS_M", 150.0)
LINLI_DUPLICATE_MIN_SCORE = env_float("LINLI_DUPLICATE_MIN_SCORE", 0.5)
# Hotspots (未诉先办): similar appeals from at least this many households of one building (else grid) reported within
# the window raise an emerging issue for the community; "similar" = same category or text similarity ≥ the minimum.
LINLI_HOTSPOT_WINDOW_HOURS = env_int("LINLI_HOTSPOT_WINDOW_HOURS", 48)
LINLI_HOTSPOT_MIN_HOUSEHOLDS = env_int("LINLI_HOTSPOT_MIN_HOUSEHOLDS", 3)
LINLI_HOTSPOT_MIN_SIMILARITY = env_float("LINLI_HOTSPOT_MIN_SIMILARITY", 0.3)
# Map tiles for the console's maps (Leaflet URL template, e.g. an intranet tile server); empty: points on a plain map.
LINLI_MAP_TILE_URL = env_str("LINLI_MAP_TILE_URL", "")
