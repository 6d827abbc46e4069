"""Settings for the CBO billing platform, read from the environment.

With no environment at all this runs the embedded default used by ``make run``: SQLite under
``var/``, Celery tasks executed eagerly in-process, email printed to the console, DEBUG on.
Production sets ``DJANGO_DEBUG=false`` plus ``SECRET_KEY``, ``DATABASE_URL``, ``REDIS_URL``,
``CELERY_TASK_ALWAYS_EAGER=false`` and
``ALLOWED_HOSTS``; ``manage.py check --deploy`` is clean with those values.
"""

from __future__ import annotations

from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False) if (BASE_DIR / ".env").exists() else None

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-change-me" if DEBUG else environ.Env.NOTSET)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "cbo_portal.apps.CboPortalConfig",
    "contracts.apps.ContractsConfig",
    "referrals.apps.ReferralsConfig",
    "billing.apps.BillingConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "cbo_portal.middleware.ActiveOrganizationMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cbo_portal.urls"
WSGI_APPLICATION = "cbo_portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cbo_portal.context_processors.shell",
            ],
        },
    },
]

# Database: PostgreSQL in production and tests, SQLite under var/ for `make run`.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
# Persistent connections: a new PostgreSQL connection per request cost a fork and a TLS/auth
# round trip on every page. Django checks a reused connection before each request, so a
# restarted database or a PgBouncer that closed it costs one retry, not an error page.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# PgBouncer (docker/compose.yml) pools in transaction mode: set DB_PGBOUNCER=true when
# DATABASE_URL points at it.
DB_PGBOUNCER = env.bool("DB_PGBOUNCER", default=False)
if "postgresql" in DATABASES["default"]["ENGINE"]:
    if DB_PGBOUNCER:
        # A server-side cursor (``iterator()``) lives in a session that transaction pooling may
        # hand to someone else between fetches: fetch client-side instead, in chunks.
        DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
    else:
        # The app's queries are short index lookups (OLTP). PostgreSQL's JIT turns itself on when
        # a row *estimate* is large and then spends hundreds of milliseconds compiling a query
        # that runs in a few, so it is off for our connections. (PgBouncer does not pass startup
        # options on: there the app role carries ``jit = off`` itself, docker/postgres/10-roles.sh.)
        options = DATABASES["default"].setdefault("OPTIONS", {})
        options["options"] = f"{options.get('options', '')} -c jit=off".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login throttling: lock a username+address pair after repeated failures.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# The client's address (audit log, sign-in lockouts): REMOTE_ADDR, unless this many proxies of
# ours stand in front and append to X-Forwarded-For (cbo_portal.middleware.client_ip).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "cbo_portal.middleware.client_ip"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "America/Los_Angeles"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {
        "BACKEND": env.str("DEFAULT_FILE_STORAGE", default="django.core.files.storage.FileSystemStorage")
    },
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
# Onboarding documents: the only types and the largest size we accept.
DOCUMENT_MAX_BYTES = env.int("DOCUMENT_MAX_BYTES", default=10 * 1024 * 1024)

# Email: console by default, SMTP when EMAIL_URL is set (smtp+tls://user:pass@host:587).
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="CalAIM Billing <no-reply@localhost>")
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
INVITATION_TTL_HOURS = env.int("INVITATION_TTL_HOURS", default=72)

# Celery: tasks run eagerly in the calling process (``make run``, tests) unless
# CELERY_TASK_ALWAYS_EAGER=false, when workers take them from the Redis broker at REDIS_URL.
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
if not CELERY_TASK_ALWAYS_EAGER and not REDIS_URL:
    raise ImproperlyConfigured(
        "CELERY_TASK_ALWAYS_EAGER=false needs REDIS_URL (the broker the workers read)."
    )
# Every request reads its session: with Redis, from Redis (a round trip, not a query), written
# through to the database so that losing Redis signs no one out (``cached_db``). Without Redis
# (``make run``) sessions stay in the database and the cache in the process.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "cbo",
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="celery")
# A task a killed worker held (late acks) goes back to the queue once it has been unacknowledged
# this long: longer than any task runs (a nightly shard takes minutes), short enough to redo a
# lost one the same night.
_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": _VISIBILITY_TIMEOUT,
    "unacked_restore_interval": max(1, min(10, _VISIBILITY_TIMEOUT // 10)),  # seconds between sweeps
    "unacked_restore_throttle": 1,
}
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# Periodic work: expire ended contracts and (daily, after midnight Pacific) authorizations; build claims and batches nightly (01:30 Pacific); resume
# batches a crash interrupted; pick up 999 and 835 files from plans' SFTP folders.
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "expire-ended-contracts": {"task": "contracts.tasks.expire_contracts", "schedule": 6 * 3600},
    "expire-ended-authorizations": {
        "task": "referrals.tasks.expire_authorizations",
        "schedule": crontab(hour=0, minute=15),
    },
    "billing-nightly": {"task": "billing.tasks.nightly_billing", "schedule": crontab(hour=1, minute=30)},
    "billing-resume-batches": {"task": "billing.tasks.resume_batches", "schedule": 30 * 60},
    "billing-pick-up-plan-files": {"task": "billing.tasks.pick_up_plan_files", "schedule": 15 * 60},
}
# The plans' worklist figures (referrals.models.NetworkSnapshot) are recomputed this often.
NETWORK_FIGURES_EVERY = env.int("NETWORK_FIGURES_EVERY", default=10 * 60)
CELERY_BEAT_SCHEDULE["referrals-network-figures"] = {
    "task": "referrals.tasks.refresh_network_figures",
    "schedule": NETWORK_FIGURES_EVERY,
}

# Shards of the nightly build: members split into this many Celery tasks, which every worker
# (on any machine) shares. A few per worker process keeps them busy to the end.
BILLING_BUILD_SHARDS = env.int("BILLING_BUILD_SHARDS", default=8)
# Deliveries a build commits at once (whole members): memory per worker, and what a crash redoes.
BILLING_BUILD_CHUNK = env.int("BILLING_BUILD_CHUNK", default=4000)
# A bigger 837P file is written in parts of about this many claims (whole transaction sets), by
# tasks side by side, then put together.
BILLING_837_PART_CLAIMS = env.int("BILLING_837_PART_CLAIMS", default=10000)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "cbo_portal.api.authentication.PersonalTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "cbo_portal.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "cbo_portal.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"anon": "60/min"},
}
# Bad input (issue #11): NUL/control characters in the address, query string, session cookie or
# form fields, oversized bodies and JSON nested too deep are refused in words, never a 500. The
# middleware sits before the session, so a forged session cookie never reaches the session table.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware"),
    "cbo_portal.badinput.BadInputMiddleware",
)
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = [
    "cbo_portal.api.parsers.JSONParser",
    "cbo_portal.api.parsers.FormParser",
    "cbo_portal.api.parsers.MultiPartParser",
]

SPECTACULAR_SETTINGS = {
    "TITLE": "CalAIM CBO Billing API",
    "DESCRIPTION": "Onboarding, contracts, referrals and billing for CalAIM community-based organizations.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "CalAIMServiceEnum": "cbo_portal.choices.CalAIMService",
        "ContractStatusEnum": "contracts.choices.ContractStatus",
        "AuthorizationModeEnum": "contracts.choices.AuthorizationMode",
        "ReferralStatusEnum": "referrals.choices.ReferralStatus",
        "AuthorizationStatusEnum": "referrals.choices.AuthorizationStatus",
        "DeliveryStatusEnum": "referrals.choices.DeliveryStatus",
        "ReferralImportStatusEnum": "referrals.choices.ImportStatus",
        "LoopClosureReasonEnum": "referrals.choices.LoopClosureReason",
        "CoverageSourceEnum": "referrals.choices.CoverageSource",
        "ReferralSourceEnum": "referrals.choices.ReferralSource",
        "ConsentKindEnum": "contracts.choices.ConsentKind",
        "ConsentStatusEnum": "referrals.choices.ConsentStatus",
        "ConsentMethodEnum": "referrals.choices.ConsentMethod",
        "OutreachMethodEnum": "referrals.choices.OutreachMethod",
    },
}

OTP_TOTP_ISSUER = "CalAIM Billing"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}

# Production hardening (all on when DEBUG is off; `check --deploy` stays clean).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# Sign-in hardening (cbo_portal/two_factor.py, cbo_portal/security.py).
# Two-factor sign-in is required of these roles once TWO_FACTOR_ENFORCED is on (the default when
# DEBUG is off; off for `make run`; tests turn it on themselves). A user has TWO_FACTOR_GRACE_DAYS
# from being given such a role to set up an authenticator app, then every page leads to the
# enrolment page and the API answers 403.
TWO_FACTOR_ENFORCED = env.bool("TWO_FACTOR_ENFORCED", default=not DEBUG)
TWO_FACTOR_REQUIRED_ROLES = env.list(
    "TWO_FACTOR_REQUIRED_ROLES", default=["cbo_admin", "cbo_billing", "plan_admin", "platform_admin"]
)
TWO_FACTOR_GRACE_DAYS = env.int("TWO_FACTOR_GRACE_DAYS", default=7)
# Sign out a session unused for this many seconds (0 turns the check off).
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_TIMEOUT", default=30 * 60)
# Our pages run no inline script. Inline style *attributes* stay allowed for the progress bars'
# widths; <style> elements and styles from elsewhere do not. The API docs page (Swagger UI,
# served from our own static files) sets its own, looser style policy in cbo_portal/urls.py.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), "
    "payment=(), usb=(), display-capture=(), browsing-topics=()"
)
MIDDLEWARE.insert(
    MIDDLEWARE.index("whitenoise.middleware.WhiteNoiseMiddleware") + 1,
    "cbo_portal.security.SecurityHeadersMiddleware",
)
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.messages.middleware.MessageMiddleware") + 1,
    "cbo_portal.security.IdleTimeoutMiddleware",
)
MIDDLEWARE.insert(
    MIDDLEWARE.index("cbo_portal.security.IdleTimeoutMiddleware") + 1,
    "cbo_portal.security.TwoFactorMiddleware",
)
TEMPLATES[0]["OPTIONS"]["context_processors"].append("cbo_portal.two_factor.banner")
REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"] = [
    "cbo_portal.api.authentication.PersonalTokenAuthentication",
    "cbo_portal.api.authentication.VerifiedSessionAuthentication",
]
# Swagger UI from our own static files (drf-spectacular-sidecar), not a CDN.
INSTALLED_APPS.append("drf_spectacular_sidecar")
SPECTACULAR_SETTINGS.update(
    {"SWAGGER_UI_DIST": "SIDECAR", "SWAGGER_UI_FAVICON_HREF": "SIDECAR", "REDOC_DIST": "SIDECAR"}
)
