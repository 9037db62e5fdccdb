"""Picky settings, read from the environment with django-environ.

Every variable and its default is listed in README.md ("Configuration").
The defaults are the embedded mode: SQLite in WAL mode, a file-system
broker, console email; set DATABASE_URL / CELERY_BROKER_URL / EMAIL_URL for
the scaled mode.
"""

import ipaddress
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from picky.local_key import MISSING_SECRET_KEY, local_secret_key
from picky.time_limits import run_task_time_limits

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
# A deployment brings its own key; the embedded mode (no DATABASE_URL: SQLite in var/) and
# DEBUG keep one they generated in var/secret_key.
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG and env.str("DATABASE_URL", default=""):
        raise ImproperlyConfigured(MISSING_SECRET_KEY)
    SECRET_KEY = local_secret_key(VAR_DIR / "secret_key")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["*"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# HTTPS in production (README "Production"): cookies sent over HTTPS only, HSTS, the
# redirect to HTTPS, and the header by which a TLS-terminating proxy says a request was.
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_PROXY_SSL_HEADER = (
    tuple(part.strip() for part in env.list("SECURE_PROXY_SSL_HEADER", default=[])) or None
)
if SECURE_PROXY_SSL_HEADER is not None and len(SECURE_PROXY_SSL_HEADER) != 2:
    raise ImproperlyConfigured(
        "SECURE_PROXY_SSL_HEADER must be a header and its value, e.g. HTTP_X_FORWARDED_PROTO,https."
    )
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "adminsortable2",
    "picky",
    "crm",
    "teambox",
    "actions",
    "connectors",
    "webhooks",
    "journeys",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Before anything reads a body: CsrfViewMiddleware reads it in process_view, later.
    "picky.upload_deadline.StaffUploadDeadline",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "teambox.pages.csp.TeamboxContentSecurityPolicy",
]

ROOT_URLCONF = "picky.urls"
WSGI_APPLICATION = "picky.wsgi.application"

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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'picky.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process and the worker read while the other writes;
    # IMMEDIATE transactions take the write lock up front instead of failing
    # with "database is locked" half-way through.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    # Parameters travel apart from the SQL, so PostgreSQL can prepare a statement once
    # per connection and reuse its plan: the engine's statements repeat on every run
    # (about 40% less database CPU per run). Turn off behind a transaction-pooling
    # PgBouncer older than 1.21, which cannot carry prepared statements.
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            {"server_side_binding": True, "prepare_threshold": 2}
        )
    # Picky's statements are short, but the planner prices a few (the inbox's live stamp
    # over thousands of chats) above jit_above_cost: compiling them took 60 ms for a query
    # that runs in 8 ms (bench/teambox.py). JIT pays off for long reports, not for pages.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = f"{options.get('options', '')} -c jit=off".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# URL fields without a scheme mean https (Django 6's default, opted into now).
FORMS_URLFIELD_ASSUME_HTTPS = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
# Files kept for a worker to read (CSV imports of records): in the scaled mode a folder
# every web and worker machine shares. Never served as they are.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=VAR_DIR / "media")

# Email: django-environ's EMAIL_URL (smtp://user:pass@host:port, consolemail://, ...).
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Picky <noreply@picky.local>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Celery: the embedded default is a file-system broker that needs no server.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "data_folder_processed": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# No remote control (celery inspect/control): Picky does not use it, and on Redis its
# pub/sub channel made the worker exit when the broker went away (bench/drills).
CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env.int("CELERY_WORKER_PREFETCH_MULTIPLIER", default=4)
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Celery's Django fixup closes every database connection around each task unless this is
# set; picky/celery.py closes them as Django does per request instead (broken or expired).
CELERY_DB_REUSE_MAX = 1_000_000
# The ingest view must answer fast even when the broker is down: fail the
# publish quickly, the event is already committed and the sweep re-enqueues it.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY = False

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["picky.api_auth.ApiTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Each project's API requests per minute, counted once its token is known.
    "DEFAULT_THROTTLE_CLASSES": ["picky.api_auth.ProjectRateThrottle"],
    # JSON only, through the JSON sanitiser (picky/json_input.py), as every entry point.
    "DEFAULT_PARSER_CLASSES": ["picky.api_parser.JSONInputParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Picky API",
    "DESCRIPTION": "Connectors, events, runs and project settings of one Picky project.",
    "VERSION": "1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    # Several models have a "status"; name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "EventStatusEnum": "connectors.models.Event.Status",
        "RunStatusEnum": "connectors.models.Run.Status",
        "RunLogStatusEnum": "connectors.models.RunLog.Status",
    },
}

# Picky's own settings.
PICKY_MAX_PAYLOAD_BYTES = env.int("PICKY_MAX_PAYLOAD_BYTES", default=1024 * 1024)
# Connectors' inbound e-mail addresses are <token>@PICKY_INBOUND_MAIL_DOMAIN (none when
# blank); the SMTP listener (manage.py receive_mail) refuses a larger mail with 552.
PICKY_INBOUND_MAIL_DOMAIN = env.str("PICKY_INBOUND_MAIL_DOMAIN", default="")
PICKY_INBOUND_MAIL_MAX_BYTES = env.int("PICKY_INBOUND_MAIL_MAX_BYTES", default=10 * 1024 * 1024)
# A request must be in, headers and body, within this many seconds of its connection opening
# (of its first byte on a kept-alive connection): picky/gunicorn_worker.py cuts it then.
PICKY_REQUEST_READ_SECONDS = env.float("PICKY_REQUEST_READ_SECONDS", default=10.0)
# The same for a file a signed-in staff member uploads (picky/upload_deadline.py).
PICKY_UPLOAD_READ_SECONDS = env.float("PICKY_UPLOAD_READ_SECONDS", default=600.0)
PICKY_HTTP_RATE_LIMIT_PER_MINUTE = env.int("PICKY_HTTP_RATE_LIMIT_PER_MINUTE", default=10)
# Default API (REST and Push) requests per minute of a new project (picky/ratelimit.py).
PICKY_API_RATE_LIMIT_PER_MINUTE = env.int("PICKY_API_RATE_LIMIT_PER_MINUTE", default=90)
PICKY_OUTBOUND_ALLOWLIST = env.list("PICKY_OUTBOUND_ALLOWLIST", default=[])
# Caps of every outbound HTTP request (picky/outbound.py).
PICKY_OUTBOUND_TIMEOUT_CAP_SECONDS = env.float("PICKY_OUTBOUND_TIMEOUT_CAP_SECONDS", default=60.0)
PICKY_OUTBOUND_MAX_RESPONSE_BYTES = env.int(
    "PICKY_OUTBOUND_MAX_RESPONSE_BYTES", default=5 * 1024 * 1024
)
PICKY_OUTBOUND_MAX_REDIRECTS = env.int("PICKY_OUTBOUND_MAX_REDIRECTS", default=5)
# First wait before retrying a failed HTTP Request action; doubles on each retry.
PICKY_HTTP_RETRY_BACKOFF_SECONDS = env.float("PICKY_HTTP_RETRY_BACKOFF_SECONDS", default=1.0)
# Alert mail (picky/alerts.py): how often the sender runs, and at most one mail per source per
# this many seconds.
PICKY_ALERT_SWEEP_SECONDS = env.int("PICKY_ALERT_SWEEP_SECONDS", default=60)
PICKY_ALERT_INTERVAL_SECONDS = env.int("PICKY_ALERT_INTERVAL_SECONDS", default=3600)
# Event and inbound webhooks (webhooks/deliveries.py): each attempt's deadline, how often the
# sweep hands out due retries, after how long a worker sending one counts as dead, and how long
# every delivery must have been given up before the project's webhooks are disabled.
PICKY_WEBHOOK_TIMEOUT_SECONDS = env.float("PICKY_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
PICKY_WEBHOOK_SWEEP_SECONDS = env.int("PICKY_WEBHOOK_SWEEP_SECONDS", default=5)
PICKY_WEBHOOK_LEASE_SECONDS = env.int("PICKY_WEBHOOK_LEASE_SECONDS", default=300)
PICKY_WEBHOOK_DISABLE_AFTER_HOURS = env.int("PICKY_WEBHOOK_DISABLE_AFTER_HOURS", default=72)
PICKY_RUN_LEASE_SECONDS = env.int("PICKY_RUN_LEASE_SECONDS", default=300)
# One execution of a run (a delayed run's resumption is another) fails when it has taken
# longer than this, checked before each step and action: it may overrun by the action in
# progress (an outbound request's deadline), so the lease and Celery's task limits are longer.
PICKY_RUN_TIME_LIMIT_SECONDS = env.float("PICKY_RUN_TIME_LIMIT_SECONDS", default=120.0)
# Celery's soft and hard time limits of the tasks that execute runs: above the longest
# outbound action, below the lease (picky/time_limits.py; Picky refuses to start otherwise).
PICKY_RUN_TASK_SOFT_TIME_LIMIT, PICKY_RUN_TASK_TIME_LIMIT = run_task_time_limits(
    PICKY_RUN_LEASE_SECONDS, PICKY_OUTBOUND_TIMEOUT_CAP_SECONDS, PICKY_RUN_TIME_LIMIT_SECONDS
)
# A run's database work commits at its end, before an outside effect, and at least this often.
PICKY_RUN_TRANSACTION_SECONDS = env.float("PICKY_RUN_TRANSACTION_SECONDS", default=1.0)
PICKY_BROKER_RETRY_SECONDS = env.float("PICKY_BROKER_RETRY_SECONDS", default=5.0)
# Web processes publish the events they accept in batches: those accepted within this many
# seconds of each other travel in one message (0: one message per event, at once). A
# publish costs a web process more CPU than storing a webhook: in a storm, 50 ms puts
# about 9 events in a message where 20 ms put 4 (bench.ingest), for 30 ms more latency.
PICKY_EVENT_BATCH_SECONDS = env.float("PICKY_EVENT_BATCH_SECONDS", default=0.05)
PICKY_STUCK_SWEEP_SECONDS = env.int("PICKY_STUCK_SWEEP_SECONDS", default=60)
PICKY_PRUNE_SECONDS = env.int("PICKY_PRUNE_SECONDS", default=86400)
PICKY_DELAY_SWEEP_SECONDS = env.float("PICKY_DELAY_SWEEP_SECONDS", default=5.0)
PICKY_DEFAULT_RETENTION_DAYS = env.int("PICKY_DEFAULT_RETENTION_DAYS", default=30)
# Headers kept with each event (lower-case names); the rest are dropped.
PICKY_KEPT_HEADERS = env.list(
    "PICKY_KEPT_HEADERS",
    default=["content-type", "user-agent", "x-request-id", "x-idempotency-key"],
)
# Headers whose value identifies a delivery: a repeated value for the same connector is a
# duplicate (answered with the original event, nothing new recorded). First present wins.
PICKY_IDEMPOTENCY_HEADERS = env.list(
    "PICKY_IDEMPOTENCY_HEADERS", default=["x-idempotency-key", "x-request-id"]
)
# The proxies in front of Picky whose X-Forwarded-For entries are trusted (picky/net.py):
# how many hops, and/or their networks. PICKY_TRUST_X_FORWARDED_FOR=true, the former
# setting, means one hop.
PICKY_TRUSTED_PROXY_HOPS = env.int(
    "PICKY_TRUSTED_PROXY_HOPS", default=int(env.bool("PICKY_TRUST_X_FORWARDED_FOR", default=False))
)
if PICKY_TRUSTED_PROXY_HOPS < 0:
    raise ImproperlyConfigured("PICKY_TRUSTED_PROXY_HOPS must be 0 or more.")
PICKY_TRUSTED_PROXIES = []
for _network in env.list("PICKY_TRUSTED_PROXIES", default=[]):
    try:
        PICKY_TRUSTED_PROXIES.append(ipaddress.ip_network(_network, strict=False))
    except ValueError:
        raise ImproperlyConfigured(
            f"PICKY_TRUSTED_PROXIES: {_network!r} is not an IP address or a CIDR range "
            "such as 10.0.0.0/8."
        ) from None
# Messaging (teambox): WhatsApp Cloud API base, daily caps, broadcasts, reply addresses.
PICKY_WHATSAPP_CLOUD_BASE_URL = env.str(
    "PICKY_WHATSAPP_CLOUD_BASE_URL", default="https://graph.facebook.com/v21.0"
)
PICKY_OFFICIAL_DAILY_CAP = env.int("PICKY_OFFICIAL_DAILY_CAP", default=1000)
# The largest received file (a WhatsApp Cloud API media id) Picky fetches and shows an agent.
PICKY_TEAMBOX_MEDIA_MAX_BYTES = env.int("PICKY_TEAMBOX_MEDIA_MAX_BYTES", default=16 * 1024 * 1024)
PICKY_BROADCAST_BATCH_SIZE = env.int("PICKY_BROADCAST_BATCH_SIZE", default=200)
PICKY_MESSAGE_LEASE_SECONDS = env.int("PICKY_MESSAGE_LEASE_SECONDS", default=120)
PICKY_MESSAGE_SWEEP_SECONDS = env.int("PICKY_MESSAGE_SWEEP_SECONDS", default=30)
# A channel webhook with more messages and statuses than this is stored and left to a
# worker (teambox/inbound.py); smaller ones are processed while the provider waits.
PICKY_INBOUND_INLINE_ITEMS = env.int("PICKY_INBOUND_INLINE_ITEMS", default=100)
PICKY_REPLY_DOMAIN = env.str("PICKY_REPLY_DOMAIN", default="reply.picky.local")
# An agent counts as online while their last heartbeat is at most this old (teambox/agents.py).
PICKY_AGENT_PRESENCE_SECONDS = env.int("PICKY_AGENT_PRESENCE_SECONDS", default=120)
# How often chats nobody replied to get the offline message or another agent (routing rules).
PICKY_CHAT_SWEEP_SECONDS = env.int("PICKY_CHAT_SWEEP_SECONDS", default=60)
# How often due sequence messages are sent and due reminders told (journeys/).
PICKY_SEQUENCE_SWEEP_SECONDS = env.int("PICKY_SEQUENCE_SWEEP_SECONDS", default=10)
PICKY_REMINDER_SWEEP_SECONDS = env.int("PICKY_REMINDER_SWEEP_SECONDS", default=30)
# Data-upload limit of Django itself must not cut a body Picky accepts.
DATA_UPLOAD_MAX_MEMORY_SIZE = PICKY_MAX_PAYLOAD_BYTES + 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10000

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# The embedded mode serves static files straight from the app folders.
WHITENOISE_USE_FINDERS = True
