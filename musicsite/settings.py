"""Settings for musicsite, read from the environment through django-environ.

With no variables set this is the embedded default: SQLite, Celery tasks run
in-process, a local-memory cache. `DATABASE_URL` switches to PostgreSQL and
`REDIS_URL` to Redis as Celery broker, result backend and Django cache.
`.env.example` documents every variable.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"  # the embedded database, uploads and model artifacts

env = environ.Env()
# An optional .env file (ENV_FILE names another; empty reads none); real variables win.
_env_file = env.str("ENV_FILE", default=str(BASE_DIR / ".env"))
if _env_file and Path(_env_file).is_file():
    environ.Env.read_env(_env_file)

# Development is the default so that `make demo` needs no variables; a deployment sets
# DEBUG=false and must then also give a real SECRET_KEY and its ALLOWED_HOSTS.
DEBUG = env.bool("DEBUG", default=True)

if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-musicsite-development-only")
else:
    SECRET_KEY = env.str("SECRET_KEY", default="")
    if not SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The API's error body for a CSRF failure on /api/ paths, Django's page elsewhere.
CSRF_FAILURE_VIEW = "web.api.errors.csrf_failure"

INSTALLED_APPS = [
    # The site: pages, the REST API, its templates and static files. First, so its
    # templates (registration/*) win over the admin's.
    "web",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    # API tokens: hashed at rest, expiring, one per device (replaces rest_framework.authtoken).
    "knox",
    # Failed sign-ins counted by account and by address (the sign-in page, the token API).
    "axes",
    "django_filters",
    "drf_spectacular",
    # Swagger UI as static files of our own: the docs work offline and under the CSP below
    # (the default loads it from a CDN, unpinned). No ReDoc: its bundle always fetches its
    # logo from cdn.redoc.ly, which the policy refuses.
    "drf_spectacular_sidecar",
    "csp",
    "django_celery_beat",
    "catalog",
    "listening",
    "recommender",
]

MIDDLEWARE = [
    "musicsite.log_ids.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before CommonMiddleware's ALLOWED_HOSTS check: probes ask by the container's address.
    "web.middleware.HealthChecksMiddleware",
    # Before anything reads a body: one over DATA_UPLOAD_MAX_MEMORY_SIZE gets a 413.
    "web.middleware.BodySizeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before sessions and auth: it answers a token request from the cache (fast_reads).
    "web.middleware.ReadyPagesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "web.urls"
WSGI_APPLICATION = "musicsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL lets the web process read while an import or a worker writes; IMMEDIATE
    # transactions take the write lock up front instead of failing half-way with "locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker, results and the cache ----------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="musicsite"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery reads every CELERY_* setting (see musicsite/celery.py).
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_RESULT_EXPIRES = 24 * 3600
# Without a broker, tasks run in-process when they are sent, and their errors surface.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Where tasks go unless sent elsewhere: one name per deployment sharing a Redis.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
# Long jobs: a task is acknowledged only when it ends, so a worker killed mid-job hands it
# back to the queue instead of losing it; one task at a time per worker process.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=6 * 3600)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 300
# Redis re-delivers an unacknowledged task after this long; it must outlast the longest job.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 600}
CELERY_TASK_TRACK_STARTED = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# django-celery-beat's database scheduler, seeding only (musicsite/beat.py): an entry the
# admin changed keeps its change across beat's restarts.
CELERY_BEAT_SCHEDULER = "musicsite.beat:SeedingScheduler"
# Every schedule, in one place (times in UTC). Beat creates the ones the database lacks when
# it starts, where the admin (Periodic tasks) shows them and can change their times or
# switch them off; it never writes these over an existing entry.
CELERY_BEAT_SCHEDULE = {
    "nightly pipeline": {
        "task": "recommender.tasks.pipeline_nightly",
        "schedule": crontab(hour=2, minute=30),
    },
    "hourly charts": {
        "task": "listening.tasks.charts_refresh",
        "schedule": crontab(minute=5),
    },
    "reap jobs whose worker was lost": {
        "task": "recommender.tasks.reap_lost_jobs",
        "schedule": crontab(minute="*/10"),
    },
    "refreshes requested while the broker was down": {
        "task": "recommender.tasks.refresh_pending",
        "schedule": crontab(),  # every minute
    },
    "prune old sets and artifacts": {
        "task": "recommender.tasks.prune",
        "schedule": crontab(hour=4, minute=15),
    },
}
PIPELINE_STALE_MINUTES = env.int("PIPELINE_STALE_MINUTES", default=60)

# --- Auth ---------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Not a rule: the one hook every password change passes (web/accounts.py).
    {"NAME": "web.accounts.RevokeTokensOnPasswordChange"},
]
# django-axes first: it refuses a locked-out account or address before the password is
# even checked (so a right password during a lockout is refused too).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Sign-in throttling (docs/README.md, "Accounts and tokens"): AXES_FAILURE_LIMIT wrong
# passwords for one account (from anywhere), or from one address (for any account), lock
# that account or address out for AXES_COOLOFF_TIME; every attempt during the lockout
# starts the cool-off again, so a guesser who keeps going stays out (the backoff). A right
# password clears the account's count. Attempts are rows in the database (the admin lists
# them; `manage.py axes_reset_username NAME` unlocks one), in both ways of running.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = True
AXES_LOCKOUT_CALLABLE = "web.accounts.lockout_response"
# The address is the connection's (REMOTE_ADDR), never a header a client can forge.
AXES_CLIENT_IP_CALLABLE = "web.accounts.client_address"
AXES_USERNAME_CALLABLE = "web.accounts.client_username"
# Each listener's first page, rendered by the publication (web/ready_pages.py), is kept this
# long: longer than a publication stays active (a nightly pipeline), so a page never lapses
# while its set is served; a retired set's pages lapse by themselves.
READY_PAGE_SECONDS = env.int("READY_PAGE_SECONDS", default=3 * 24 * 3600)

# API tokens (django-rest-knox): stored as SHA-512 digests, valid for API_TOKEN_DAYS.
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=env.int("API_TOKEN_DAYS", default=30)),
    "AUTH_HEADER_PREFIX": "Token",
}
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# --- I18N, static and media --------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=VAR_DIR / "static")
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- REST API -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "web.api.authentication.ShapedTokenAuthentication",  # django-rest-knox's
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "web.api.errors.ErrorsDocumentedSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "web.api.errors.api_exception_handler",
    # JSON only, nesting bounded; the renderer survives echoing a lone surrogate (formats.py).
    "DEFAULT_PARSER_CLASSES": ["web.api.formats.BoundedJSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",  # as the API reads JSON only
    "DEFAULT_RENDERER_CLASSES": [
        "web.api.formats.SafeJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    # One limiter for DRF and the ready first page (web/ratelimit.py): "user" by account,
    # "anon" by address, in a sliding window.
    "DEFAULT_THROTTLE_CLASSES": ["web.api.throttles.ApiRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="120/minute"),
        "user": env.str("API_THROTTLE_USER", default="1200/minute"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "musicsite API",
    "DESCRIPTION": "Personal song and artist suggestions, listening history and the catalogue.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# --- Content-Security-Policy (django-csp) ----------------------------------------------------
# Everything the site loads comes from itself: no script but our static files (the pages
# have no inline script; the API docs load theirs from the split Swagger view), no frame, no
# plugin. Inline styles stay allowed: the charts are matplotlib SVGs whose every element
# carries a style attribute, and the admin's templates use them too; a style cannot run code.
# Swagger UI shows data: images.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Security (production) -------------------------------------------------------------------
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Health probes speak plain HTTP to the process itself (docker-compose's check, a load
    # balancer), never through the TLS proxy: a redirect to https would fail every one.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# --- Logging ---------------------------------------------------------------------------------
# Each line carries the request or task id (musicsite/log_ids.py); LOG_FORMAT=json writes
# one JSON object a line instead of text.
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"ids": {"()": "musicsite.log_ids.WithIds"}},
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s "
            "request=%(request_id)s task=%(task_id)s %(message)s"
        },
        "json": {"()": "musicsite.log_ids.JsonLines"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["ids"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Imports: plays before this date are dropped as time_out_of_range (docs/cleaning.md);
# one import can set its own (`import_listens --since 1990-01-01`, the upload form).
LISTENING_EARLIEST_PLAY = env.str("LISTENING_EARLIEST_PLAY", default="2002-01-01")
# An import of at least this many rows into an empty listen table (PostgreSQL) drops the
# table's secondary indexes and builds them after the COPY (listening/ingest/initial_load.py).
LISTENING_INITIAL_LOAD_ROWS = env.int("LISTENING_INITIAL_LOAD_ROWS", default=1_000_000)

# --- Curation (catalog/curation.py): an artist or song first named in a listener's submission
# is public once this many distinct listeners played it (or staff approved it); a listener
# may add at most CATALOG_NEW_PER_DAY new artists and songs in 24 hours.
CATALOG_PUBLIC_AFTER_LISTENERS = env.int("CATALOG_PUBLIC_AFTER_LISTENERS", default=3)
CATALOG_NEW_PER_DAY = env.int("CATALOG_NEW_PER_DAY", default=200)

# --- The recommender's own settings, one namespaced dict (read through recommender.conf) ---
RECOMMENDER = {
    "TOP_N": env.int("RECOMMENDER_TOP_N", default=50),
    "ARTIFACT_DIR": env.path("RECOMMENDER_ARTIFACT_DIR", default=VAR_DIR / "artifacts"),
    "SETS_TO_KEEP": env.int("RECOMMENDER_SETS_TO_KEEP", default=3),
    "EVALUATION_SAMPLE": env.int("RECOMMENDER_EVALUATION_SAMPLE", default=50_000),
}
