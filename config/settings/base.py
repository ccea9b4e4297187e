"""Settings for every environment; everything that varies comes from the environment.

`local.py` and `test.py` only add conveniences on top (development defaults,
speed-ups); production runs this module directly with its variables set.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_json, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "django_htmx",
    "django_prometheus",
    "axes",
    "accounts",
    "orchestration",
    "tasks_ui",
    "api",
]

MIDDLEWARE = [
    # First and last: every request's count and latency (django-prometheus).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "orchestration.audit.context.AuditContextMiddleware",
    # Under /api/: every error a problem document, never an HTML page.
    "api.errors.ApiProblemMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every API call, replays included, in the API's access log.
    "api.access_log.ApiCallLogMiddleware",
    # After authentication: a replayed answer belongs to the key or person that got it.
    "api.idempotency.IdempotencyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    "accounts.middleware.UserTimezoneMiddleware",
    "accounts.middleware.UserLanguageMiddleware",
    # The person on every log line of the request (orchestration/log_context.py).
    "orchestration.log_context.UserLogMiddleware",
    "tasks_ui.middleware.StyledErrorsMiddleware",
    # After a change, the person's reads stay on the primary a while (replica.py).
    "orchestration.replica.WroteMiddleware",
    # Last but one, as django-axes asks: it answers a locked-out login.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "tasks_ui.context.navigation",
            ],
        },
    },
]


def database_from_url(url: str) -> dict[str, object]:
    """Database settings from a URL; SQLite gets what a web server and a worker need
    to share one file: WAL, a busy timeout and IMMEDIATE write transactions (so a
    writer waits for the lock up front instead of failing with "database is locked").
    """
    config: dict[str, object] = dict(
        dj_database_url.parse(url, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60))
    )
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["CONN_MAX_AGE"] = 0
        config["OPTIONS"] = {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    else:
        config["CONN_HEALTH_CHECKS"] = True
        # Short OLTP queries only: PostgreSQL's JIT compiles plans it guesses
        # are costly (a count over many open tasks) and spent 30 ms doing so,
        # ten times the query itself (bench/inbox.py).
        options = dict(config.get("OPTIONS") or {})  # type: ignore[call-overload]
        options["options"] = (str(options.get("options", "")) + " -c jit=off").strip()
        config["OPTIONS"] = options
    # The same backends, counting queries and their time for /metrics
    # (django-prometheus): in web processes (config/wsgi.py and asgi.py turn it
    # on), not in workers, where it cost about 10 us of CPU per query, a tenth
    # of a 3-step instance's (docs/performance.md); the engine's own metrics
    # say what the workers do.
    engine = str(config["ENGINE"])
    if engine.startswith("django.db.backends.") and env_bool("DATABASE_METRICS", False):
        config["ENGINE"] = "django_prometheus.db.backends." + engine.rsplit(".", 1)[-1]
    return config


DATABASES = {"default": database_from_url(env_str("DATABASE_URL"))}
# A PostgreSQL streaming replica for the reads that may lag a little (the
# inbox lists, the reports, the API's lists): orchestration/replica.py says
# which and under what rule; everything else reads and writes the primary.
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL", "")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = database_from_url(DATABASE_REPLICA_URL)
    # A replica that does not answer within 2 s is skipped, not waited for.
    _replica_options = dict(DATABASES["replica"].get("OPTIONS") or {})  # type: ignore[call-overload]
    DATABASES["replica"]["OPTIONS"] = {**_replica_options, "connect_timeout": 2}
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["orchestration.replica.ReplicaRouter"]
# The replica serves a read only while it is at most this far behind ...
ORCHESTRATION_REPLICA_MAX_LAG_SECONDS = env_int("ORCHESTRATION_REPLICA_MAX_LAG_SECONDS", 2)
# ... and not to a person in the seconds after they changed something.
ORCHESTRATION_REPLICA_STICKY_SECONDS = env_int("ORCHESTRATION_REPLICA_STICKY_SECONDS", 10)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
# The front door sends each person where their work is (tasks_ui/views.py).
LOGIN_REDIRECT_URL = "tasks_ui:home"
LOGOUT_REDIRECT_URL = "login"

# Password guessing: django-axes locks a username from an address after
# AXES_FAILURE_LIMIT failures in a row, for AXES_COOLOFF_MINUTES.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.access.CachedModelBackend",
]
# The engine's own statements are prepared once per connection (orchestration/
# engine/sql.py). Off for a connection pooler that cannot carry prepared
# statements across transactions (PgBouncer before 1.21 in transaction mode).
ORCHESTRATION_PREPARED_STATEMENTS = env_bool("ORCHESTRATION_PREPARED_STATEMENTS", True)
# Seconds a process keeps a user's permissions and groups (accounts/access.py).
ORCHESTRATION_ACCESS_CACHE_SECONDS = env_int("ORCHESTRATION_ACCESS_CACHE_SECONDS", 10)
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_IPWARE_PROXY_COUNT = env_int("AXES_PROXY_COUNT", 0)
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if env_int("AXES_PROXY_COUNT", 0) else ["REMOTE_ADDR"]
)

# No inline script anywhere (htmx is configured by a meta tag, behaviour lives
# in static files); the admin's own pages run under the same policy.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # A nonce only where a page asks for one (request.csp_nonce): the admin's
        # code editor, whose styles CodeMirror injects as a <style> element.
        "style-src": ["'self'", NONCE],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

LANGUAGE_CODE = "en"
# The pages speak these; each person's own setting (User.language) first, then
# the browser's Accept-Language (docs/ui.md). German is complete (locale/de).
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates and numbers as each language writes them (config/formats/<lang>/).
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = env_str("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

# Attachments go through Django's storage API: local files under MEDIA_ROOT by
# default (never served as static files: the app checks who may read each),
# any django-storages backend in production (DJANGO_STORAGE_BACKEND, with its
# options as JSON in DJANGO_STORAGE_OPTIONS).
MEDIA_ROOT = Path(env_str("DJANGO_MEDIA_ROOT", str(BASE_DIR / "media")))
STORAGES = {
    "default": {
        "BACKEND": env_str("DJANGO_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage"),
        "OPTIONS": env_json("DJANGO_STORAGE_OPTIONS", {}),
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# One file at most this big; at most this many per instance; these kinds only
# (by file name extension; the type is taken from it, never from the browser).
ORCHESTRATION_ATTACHMENT_MAX_BYTES = env_int("ORCHESTRATION_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
ORCHESTRATION_ATTACHMENTS_PER_INSTANCE = env_int("ORCHESTRATION_ATTACHMENTS_PER_INSTANCE", 50)
ORCHESTRATION_ATTACHMENT_TYPES = env_list(
    "ORCHESTRATION_ATTACHMENT_TYPES",
    ["pdf", "png", "jpg", "jpeg", "gif", "txt", "csv", "xlsx", "docx", "odt", "ods"],
)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # larger uploads spool to a temporary file
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("DJANGO_SESSION_SECONDS", 12 * 3600)
SECURE_CONTENT_TYPE_NOSNIFF = True
# TLS is usually terminated by a proxy; these are opt-in so that a plain-HTTP
# deployment behind one is not broken by a redirect loop.
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.keys.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    # ASCII JSON: an error that quotes bad input (a lone surrogate) still renders.
    "UNICODE_JSON": False,
    "DEFAULT_THROTTLE_CLASSES": ["api.common.PerKeyThrottle"],
    # Per API key (per person for browser sessions); DRF's "number/period".
    "DEFAULT_THROTTLE_RATES": {"api": env_str("API_THROTTLE_RATE", "6000/min")},
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# How long the API's access log keeps each call (api.jobs.housekeeping prunes).
API_CALL_LOG_DAYS = env_int("API_CALL_LOG_DAYS", 30)
SPECTACULAR_SETTINGS = {
    "TITLE": "Process engine API",
    "DESCRIPTION": "Start, signal and decide processes; see docs/api.md.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's files from the drf-spectacular-sidecar package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.problem_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "InstanceStatusEnum": "orchestration.states.InstanceStatus",
        "TaskStatusEnum": "orchestration.states.TaskStatus",
    },
}

# django-q2 runs the engine's work; the engine's own tables stay the record of it.
# retry must stay well above timeout (see docs/operations.md).
Q_CLUSTER = {
    "name": "orchestration",
    "orm": "default",
    "workers": env_int("Q_WORKERS", 2),
    "timeout": env_int("Q_TIMEOUT", 120),
    "retry": env_int("Q_RETRY", 600),
    "max_attempts": 3,
    "queue_limit": 20,
    "catch_up": False,
    "poll": 0.2,
    "ack_failures": True,
}
# django-q2's broker: the database (ORM, the default: nothing more to run) or
# Redis when Q_REDIS_URL is set (redis://host:6379/0). The engine's work is
# in the database either way; the broker carries only the engine loops and
# the webhook sender's start (docs/operations.md, "Topology").
Q_REDIS_URL = env_str("Q_REDIS_URL", "")
if Q_REDIS_URL:
    del Q_CLUSTER["orm"]
    Q_CLUSTER["redis"] = Q_REDIS_URL

# Hosts that http steps may call: "host" (the scheme's default port only) or
# "host:port"; anything else is refused.
ORCHESTRATION_HTTP_ALLOWED_HOSTS = env_list("ORCHESTRATION_HTTP_ALLOWED_HOSTS", [])
# The largest response body an http step reads (decoded bytes); larger is an error.
ORCHESTRATION_HTTP_MAX_RESPONSE_BYTES = env_int(
    "ORCHESTRATION_HTTP_MAX_RESPONSE_BYTES", 1024 * 1024
)
# Environment variables http steps may send as credentials (auth: {bearer_secret: NAME}).
ORCHESTRATION_SECRETS = env_list("ORCHESTRATION_SECRETS", [])

# Logs: one JSON object per line in production (LOG_FORMAT=json, the default
# here), with the request id, the person, and the instance, step, task, worker
# and attempt wherever known (orchestration/log_context.py); plain lines for
# people reading a terminal (LOG_FORMAT=plain; the demo's default).
LOG_FORMAT = env_str("LOG_FORMAT", "json")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "orchestration.log_context.LogContext"}},
    "formatters": {
        "plain": {
            # A message on one line, whatever values it quotes (orchestration/safe_text.py).
            "()": "orchestration.safe_text.OneLineFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json": {
            "()": "orchestration.log_context.JsonLines",
            "fmt": "%(levelname)s %(name)s %(message)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": "time",  # ISO 8601, UTC
            "json_ensure_ascii": False,
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        },
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # Its per-login bookkeeping is INFO noise on every command; lockouts are warnings.
    "loggers": {"axes": {"level": "WARNING"}},
}
ORCHESTRATION_HANDLER_MODULES = env_list("ORCHESTRATION_HANDLER_MODULES", [])

# Traces (orchestration/tracing.py): "otlp" sends them to the collector in the
# standard OTEL_EXPORTER_OTLP_* variables, "console" prints them; empty: off.
ORCHESTRATION_TRACING = env_str("ORCHESTRATION_TRACING", "")
if ORCHESTRATION_TRACING not in ("", "otlp", "console"):
    raise ImproperlyConfigured(
        f"ORCHESTRATION_TRACING must be otlp, console or empty, not {ORCHESTRATION_TRACING!r}"
    )
ORCHESTRATION_TRACING_SERVICE = env_str("OTEL_SERVICE_NAME", "process-engine")
# The share of new traces kept (head sampling; an instance's steps and webhooks
# follow its trace's choice): 0.1 keeps tracing's cost within the benchmark's
# noise (docs/performance.md). OTEL_TRACES_SAMPLER, when set, decides instead.
try:
    ORCHESTRATION_TRACING_SAMPLE = float(env_str("ORCHESTRATION_TRACING_SAMPLE", "0.1"))
except ValueError as exc:
    raise ImproperlyConfigured("ORCHESTRATION_TRACING_SAMPLE must be a number") from exc
if not 0.0 <= ORCHESTRATION_TRACING_SAMPLE <= 1.0:
    raise ImproperlyConfigured(
        f"ORCHESTRATION_TRACING_SAMPLE must be between 0 and 1, not {ORCHESTRATION_TRACING_SAMPLE}"
    )

# /metrics answers only a scraper that shows this bearer token, or that comes
# from one of these addresses or networks (CIDR); neither set: nobody.
ORCHESTRATION_METRICS_TOKEN = env_str("ORCHESTRATION_METRICS_TOKEN", "")
ORCHESTRATION_METRICS_ALLOWED_IPS = env_list("ORCHESTRATION_METRICS_ALLOWED_IPS", [])
# /readyz: ready while an engine loop beat this recently, and while sealing and
# the outbox (mail, webhooks) lag less than these (seconds).
ORCHESTRATION_READY_HEARTBEAT_SECONDS = env_int("ORCHESTRATION_READY_HEARTBEAT_SECONDS", 60)
ORCHESTRATION_READY_SEALING_LAG_SECONDS = env_int("ORCHESTRATION_READY_SEALING_LAG_SECONDS", 120)
ORCHESTRATION_READY_OUTBOX_LAG_SECONDS = env_int("ORCHESTRATION_READY_OUTBOX_LAG_SECONDS", 300)
# How long one attempt of a step that declares no `timeout` may take (a duration).
ORCHESTRATION_DEFAULT_STEP_TIMEOUT = env_str("ORCHESTRATION_DEFAULT_STEP_TIMEOUT", "5m")
# How long an ended instance's personal data is kept where its definition says
# nothing (`retention`): a duration, or "forever" (orchestration/retention).
ORCHESTRATION_RETENTION = env_str("ORCHESTRATION_RETENTION", "365d")
# The share of the time the purge works while a backlog lasts (at 0.1 it rests
# nine times as long as each round took): what keeps it from slowing the engine
# (docs/performance.md, growth at 1,000,000 instances: at 0.2 the engine lost
# 15 %, at 0.1 5 %).
try:
    ORCHESTRATION_PURGE_DUTY = float(env_str("ORCHESTRATION_PURGE_DUTY", "0.1"))
except ValueError as exc:
    raise ImproperlyConfigured("ORCHESTRATION_PURGE_DUTY must be a number") from exc
if not 0.0 < ORCHESTRATION_PURGE_DUTY <= 1.0:
    raise ImproperlyConfigured(
        f"ORCHESTRATION_PURGE_DUTY must be above 0 and at most 1, not {ORCHESTRATION_PURGE_DUTY}"
    )
# Fernet keys (newest first, comma-separated) that encrypt values a definition
# marks `sensitive`; older keys still decrypt, so keys rotate (docs/security.md).
# Empty: definitions that mark anything sensitive cannot be published.
ORCHESTRATION_ENCRYPTION_KEYS = env_str("ORCHESTRATION_ENCRYPTION_KEYS", "")
# The longest duration a definition may give (timeouts, waits, due dates, backoff).
ORCHESTRATION_MAX_DURATION_DAYS = env_int("ORCHESTRATION_MAX_DURATION_DAYS", 3650)
# Outside JSON (handler outputs, later start variables and form data): size and depth.
ORCHESTRATION_MAX_JSON_BYTES = env_int("ORCHESTRATION_MAX_JSON_BYTES", 256 * 1024)
ORCHESTRATION_MAX_JSON_DEPTH = env_int("ORCHESTRATION_MAX_JSON_DEPTH", 32)
# The longest answer to a text or textarea form field (characters).
ORCHESTRATION_MAX_TEXT_LENGTH = env_int("ORCHESTRATION_MAX_TEXT_LENGTH", 10_000)
# Definitions: source size (bytes) and nesting depth.
ORCHESTRATION_MAX_DEFINITION_BYTES = env_int("ORCHESTRATION_MAX_DEFINITION_BYTES", 1024 * 1024)
ORCHESTRATION_MAX_DEFINITION_DEPTH = env_int("ORCHESTRATION_MAX_DEFINITION_DEPTH", 20)
# The business calendar of definitions that name none (JSON, the same fields as a
# definition's `calendar`), e.g. {"timezone": "Europe/Berlin", "holidays": "DE"};
# unset: their `due` and `after` count calendar time.
ORCHESTRATION_CALENDAR = env_json("ORCHESTRATION_CALENDAR", None)
# Sub-processes nested deeper than this end their chain as an incident.
ORCHESTRATION_SUBPROCESS_DEPTH = env_int("ORCHESTRATION_SUBPROCESS_DEPTH", 10)
ORCHESTRATION_DEMO = env_bool("ORCHESTRATION_DEMO", False)

# Engine loops (long-running django-q2 tasks that run automated steps and timers).
ORCHESTRATION_LOOPS = env_int("ORCHESTRATION_LOOPS", Q_CLUSTER["workers"])
ORCHESTRATION_LOOP_SECONDS = env_int("ORCHESTRATION_LOOP_SECONDS", 50)
# After a NOTIFY, wait this long for more commits before claiming (batching).
ORCHESTRATION_COALESCE_MS = env_int("ORCHESTRATION_COALESCE_MS", 3)
# Loops other than the leading one take only steps due at least this long
# (polling that often while they find work, backing off to 0.25 s when they do
# not); see engine/wakeup.py.
ORCHESTRATION_HELP_AFTER_MS = env_int("ORCHESTRATION_HELP_AFTER_MS", 25)

# Email (task notifications): console by default; SMTP when EMAIL_HOST is set.
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "process-engine@localhost")
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)

# Where people reach this site (links in email), and how long a decision link lasts.
ORCHESTRATION_BASE_URL = env_str("ORCHESTRATION_BASE_URL", "http://127.0.0.1:8000")
ORCHESTRATION_EMAIL_LINK_HOURS = env_int("ORCHESTRATION_EMAIL_LINK_HOURS", 72)
# How often an open inbox asks whether its list changed (a cheap check; the
# list is re-rendered only when something changed).
ORCHESTRATION_INBOX_POLL_SECONDS = env_int("ORCHESTRATION_INBOX_POLL_SECONDS", 15)
# Seconds a webhook target has to answer one delivery attempt.
ORCHESTRATION_WEBHOOK_TIMEOUT = env_int("ORCHESTRATION_WEBHOOK_TIMEOUT", 5)
