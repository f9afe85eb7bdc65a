"""Linli settings: everything comes from the environment; see docs/configuration.md."""

from __future__ import annotations

import datetime
from pathlib import Path

import dj_database_url

from linli.config.env import (
    data_dir,
    env_bool,
    env_float,
    env_int,
    env_str,
    secret_from_env_or_file,
    secret_list_from_env_or_file,
    shared_dir,
    tile_origins,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = data_dir()
# Test data location (issue #10): the shared data folder read by tests, benchmarks and commands (see config/env.py).
LINLI_SHARED_DIR = shared_dir()

SECRET_KEY = secret_from_env_or_file("SECRET_KEY", DATA_DIR, "secret_key", nbytes=50)
# Key rotation (docs/operations.md): the previous SECRET_KEY(s), comma-separated or one a line in
# SECRET_KEY_FALLBACKS_FILE. Sessions, signed forms and printed QR codes made with them stay valid.
SECRET_KEY_FALLBACKS = secret_list_from_env_or_file("SECRET_KEY_FALLBACKS")
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
    "axes",  # login throttling (linli/accounts/throttle.py)
    "django_otp",  # two-factor login (linli/accounts/twofactor.py)
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
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
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy (CONTENT_SECURITY_POLICY below)
    # Boundary checks (ADR 0023): NULs and out-of-range integers refused before any session or database access.
    "linli.core.boundary.BoundaryMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "linli.accounts.middleware.IdleSessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified()
    "linli.accounts.middleware.LoginStepsMiddleware",  # second factor, then a forced password change
    "axes.middleware.AxesMiddleware",  # throttled logins answer like wrong ones (linli/accounts/throttle.py)
    "linli.core.middleware.NoStoreForSignedInMiddleware",  # Cache-Control: no-store for signed-in users
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
# PgBouncer in transaction mode (issue #10 item 6; ADR 0027): a server connection is ours only for a transaction,
# so no server-side cursor may outlive one (Django's ``.iterator()`` outside a transaction declares WITH HOLD).
LINLI_PGBOUNCER = env_bool("LINLI_PGBOUNCER", False)
if LINLI_PGBOUNCER and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
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
# Public pages under abuse (rate limits, issue #9): the cache carries the rate-limit counters, so it must be shared
# by every web process: Redis when REDIS_URL is set, else the database (the table is created by a migration; see
# linli/core/dbcache.py for why not Django's own DatabaseCache as is).
CACHES: dict[str, dict[str, object]]
if REDIS_URL:
    # A key prefix lets several installations (or parallel test workers) share one Redis database.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("LINLI_CACHE_KEY_PREFIX", ""),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "linli.core.dbcache.DatabaseCache",
            "LOCATION": "linli_cache",
            "OPTIONS": {"MAX_ENTRIES": env_int("LINLI_CACHE_MAX_ENTRIES", 200_000)},
        }
    }
# Rate limits (linli/core/ratelimit.py): "N/period", period s, m, h, d with an optional multiplier ("5/10m").
LINLI_RATELIMIT_ENABLED = env_bool("LINLI_RATELIMIT_ENABLED", True)
LINLI_RATELIMITS = {
    "report_ip": env_str("LINLI_RATELIMIT_REPORT_IP", "20/h"),  # QR reports from one client address
    "report_phone": env_str("LINLI_RATELIMIT_REPORT_PHONE", "5/h"),  # reports (QR and Open311) with one phone
    "wish_ip": env_str("LINLI_RATELIMIT_WISH_IP", "10/h"),  # wish-box entries from one client address
    "support_ip": env_str("LINLI_RATELIMIT_SUPPORT_IP", "30/h"),  # "+1" presses from one client address
    "track_ip": env_str("LINLI_RATELIMIT_TRACK_IP", "20/h"),  # callback answers from one client address
    "open311_ip": env_str("LINLI_RATELIMIT_OPEN311_IP", "120/h"),  # Open311 POSTs from one client address
}
# Client address for the limits: REMOTE_ADDR, unless this many reverse proxies of our own stand in front and
# append to X-Forwarded-For (then the address the outermost trusted proxy saw). 0 = never read the header.
LINLI_TRUSTED_PROXY_COUNT = env_int("LINLI_TRUSTED_PROXY_COUNT", 0)
RATELIMIT_ENABLE = LINLI_RATELIMIT_ENABLED
RATELIMIT_IP_META_KEY = "linli.core.ratelimit.client_ip"
# SMS receipts (回执) to one phone: at most one per this many minutes, and at most this many a day.
LINLI_SMS_RECEIPT_MINUTES = env_int("LINLI_SMS_RECEIPT_MINUTES", 5)
LINLI_SMS_RECEIPT_DAILY = env_int("LINLI_SMS_RECEIPT_DAILY", 10)
# Photos: pixel caps (decompression bombs) for staff and for anonymous uploads (QR page), and the stored size
# of an anonymous upload (JPEG is decoded reduced to about this size).
LINLI_PHOTO_MAX_PIXELS = env_int("LINLI_PHOTO_MAX_PIXELS", 50_000_000)
LINLI_PUBLIC_PHOTO_MAX_PIXELS = env_int("LINLI_PUBLIC_PHOTO_MAX_PIXELS", 16_000_000)
LINLI_PUBLIC_PHOTO_MAX_SIDE = env_int("LINLI_PUBLIC_PHOTO_MAX_SIDE", 1920)
# Open311 public feed: the channels whose cases GET requests publishes (residents' own reports by default).
LINLI_OPEN311_PUBLIC_CHANNELS = [
    c.strip() for c in env_str("LINLI_OPEN311_PUBLIC_CHANNELS", "qr_resident,open311").split(",") if c.strip()
]

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
AUTHENTICATION_BACKENDS = ["linli.accounts.backends.ThrottledModelBackend"]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "console:home"
LOGOUT_REDIRECT_URL = "accounts:login"
# --- Login throttling and two-factor login (issue #9 items 7-8; ADR 0022).
# django-axes counts failed logins per client address + username and per client address (never per username
# alone: nobody can lock a known account from elsewhere).
LINLI_LOCKOUT_THRESHOLD = env_int("LINLI_LOCKOUT_THRESHOLD", 5)  # failures per address + username
LINLI_LOCKOUT_ADDRESS_THRESHOLD = env_int("LINLI_LOCKOUT_ADDRESS_THRESHOLD", 30)  # failures per address
LINLI_LOCKOUT_MINUTES = env_int("LINLI_LOCKOUT_MINUTES", 15)  # cool-off after the last failure
AXES_LOCKOUT_PARAMETERS = [["ip_address", "username"], "ip_address"]  # limits: the two thresholds above
AXES_HANDLER = "linli.accounts.throttle.LinliAxesHandler"  # the database handler, several limits
AXES_FAILURE_LIMIT = "linli.accounts.throttle.failure_limit"
AXES_COOLOFF_TIME = datetime.timedelta(minutes=LINLI_LOCKOUT_MINUTES)
# A login forgets only its own address's failures on that account (LinliAxesHandler), not the whole address.
AXES_RESET_ON_SUCCESS = False
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "linli.accounts.throttle.lockout_response"  # same page as a wrong password
AXES_CLIENT_IP_CALLABLE = "linli.core.ratelimit.client_ip"  # REMOTE_ADDR unless LINLI_TRUSTED_PROXY_COUNT
AXES_VERBOSE = False
# TOTP (django-otp): required for superusers and the holders of these post kinds; LINLI_2FA_ENFORCE=false lets
# unenrolled users in (only `linli demo` and the browser tests do that); enrolled users always verify.
LINLI_2FA_REQUIRED_POSTS = [
    k.strip() for k in env_str("LINLI_2FA_REQUIRED_POSTS", "county_admin,city_admin").split(",") if k.strip()
]
LINLI_2FA_ENFORCE = env_bool("LINLI_2FA_ENFORCE", True)
LINLI_2FA_POLICY = "linli.org.logins.requires_two_factor"  # posts live in linli.org, a layer above accounts
# Where a user starts after signing in without asking for a page: field posts on a phone start on the phone pages
# (``linli.console.phone``); None from the function means LOGIN_REDIRECT_URL. Named here: accounts is a lower layer.
LINLI_LOGIN_LANDING = "linli.console.phone.login_landing"
OTP_TOTP_ISSUER = env_str("LINLI_2FA_ISSUER", "邻里")

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
# --- TLS and browser hardening (issue #9; ADR 0020). The production values are in docs/operations.md, where
# `linli manage check --deploy` reports no issue with them (tests/test_deploy_check.py).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# The request header a reverse proxy sets to "https" on TLS requests, in WSGI form (HTTP_X_FORWARDED_PROTO).
# Set it only when the proxy always sets or overwrites that header: otherwise a client could claim https.
_proxy_ssl_header = env_str("LINLI_PROXY_SSL_HEADER", "")
SECURE_PROXY_SSL_HEADER = (_proxy_ssl_header, "https") if _proxy_ssl_header else None
SECURE_REFERRER_POLICY = env_str("SECURE_REFERRER_POLICY", "same-origin")

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
TIME_ZONE = "Asia/Shanghai"
# Date input formats ISO first (``<input type="date">`` takes nothing else), thousands grouped by 3 (intcomma).
FORMAT_MODULE_PATH = ["linli.config.formats"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media/"

# Ledger imports: bigger files are refused with a clear message.
LINLI_IMPORT_MAX_BYTES = env_int("LINLI_IMPORT_MAX_BYTES", 50 * 1024 * 1024)
LINLI_IMPORT_BATCH = env_int("LINLI_IMPORT_BATCH", 2000)
# Ledger import failures (issue #10, ADR 0024): a job whose worker stopped heart-beating is re-queued by the
# monitor at most this many times, then failed; the writer thread's queue waits are bounded by this many seconds.
LINLI_IMPORT_MAX_ATTEMPTS = env_int("LINLI_IMPORT_MAX_ATTEMPTS", 3)
LINLI_IMPORT_QUEUE_WAIT = env_float("LINLI_IMPORT_QUEUE_WAIT", 1.0)
# Area code added to a ledger's 7–8 digit landline numbers (e.g. "0530" for Heze); empty: such numbers are left out.
LINLI_DEFAULT_AREA_CODE = env_str("LINLI_DEFAULT_AREA_CODE", "")
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Data files (issue #9, ADR 0023): uploads and photos readable by the service's account only; a ledger upload is
# deleted when its import ends, and the monitor deletes uploads no job names after this many hours.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
LINLI_IMPORT_UPLOAD_MAX_HOURS = env_int("LINLI_IMPORT_UPLOAD_MAX_HOURS", 24)
# A household not verified within this many days is shown as stale ("5项基础信息" are refreshed monthly).
LINLI_STALE_DAYS = env_int("LINLI_STALE_DAYS", 31)
# Street, county and city home pages read counts the monitor refreshes this often (linli.cases.dashboard);
# a community's page and smaller ones count live.
LINLI_DASHBOARD_REFRESH_SECONDS = env_int("LINLI_DASHBOARD_REFRESH_SECONDS", 60)
# … and residents, households and key groups (which change slowly) this often.
LINLI_POPULATION_REFRESH_SECONDS = env_int("LINLI_POPULATION_REFRESH_SECONDS", 600)

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
    # Never log secrets (issue #9): tracking links, Open311 tokens, API keys, credentials, mobile numbers.
    "filters": {"redact_secrets": {"()": "linli.core.logfilters.RedactSecrets"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["redact_secrets"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "WARNING")},
}

# Smart triage: a classifier suggestion replaces the category defaults only at or above this confidence.
LINLI_TRIAGE_AUTO_CONFIDENCE = env_float("LINLI_TRIAGE_AUTO_CONFIDENCE", 0.8)
# … and then (unless switched off) the new appeal is triaged automatically, marked, and can be undone.
LINLI_TRIAGE_AUTO_ROUTE = env_bool("LINLI_TRIAGE_AUTO_ROUTE", True)
# --- Smart triage in the loop (issue #10 items 6-7; ADR 0027).
# Auto-routing per channel: only these channels' appeals are triaged automatically (residents' own reports). On
# staff channels (hotline, door-knocking, grid worker, patrol, API) the suggestion is shown, never applied; and a
# category a signed-in staff member picked is never overridden, whatever the channel.
LINLI_TRIAGE_AUTO_ROUTE_CHANNELS = [
    c.strip()
    for c in env_str("LINLI_TRIAGE_AUTO_ROUTE_CHANNELS", "qr_resident,open311,wish_box").split(",")
    if c.strip()
]
# The retrain's lease (a row with an expiry, both databases): renewed while training, taken over once expired.
LINLI_TRIAGE_RETRAIN_LEASE_SECONDS = env_int("LINLI_TRIAGE_RETRAIN_LEASE_SECONDS", 600)
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

# --- Content-Security-Policy (django-csp; ADR 0020): scripts only from our own files, never inline or eval;
# inline style attributes stay allowed (ECharts' tooltips and Leaflet's panes set them). Map tiles are images
# from the configured tile server's origin.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:", *tile_origins(LINLI_MAP_TILE_URL)],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}
