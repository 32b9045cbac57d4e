"""Django settings: every value comes from an environment variable (see docs/configuration.md)."""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
import dj_email_url
from django.core.exceptions import ImproperlyConfigured

from omnicrm.config import data_dir, env_bool, env_list, secret_key

BASE_DIR = Path(__file__).resolve().parent
OMNICRM_ENV = os.environ.get("OMNICRM_ENV", "development").strip().lower()
PRODUCTION = OMNICRM_ENV == "production"
DATA_DIR = data_dir()

SECRET_KEY = secret_key(production=PRODUCTION, directory=DATA_DIR)
DEBUG = env_bool("DEBUG", default=False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    # Lets /api/docs serve Swagger UI from Ninja's bundled static files, not a CDN.
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "omnicrm.core",
    "omnicrm.customers",
    "omnicrm.catalog",
    "omnicrm.orders",
    "omnicrm.reviews",
    "omnicrm.analytics",
    "omnicrm.importers",
    "omnicrm.events",
    "omnicrm.segments",
    "omnicrm.recommendations",
    "omnicrm.console",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "omnicrm.urls"
WSGI_APPLICATION = "omnicrm.wsgi.application"
ASGI_APPLICATION = "omnicrm.asgi.application"

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
                "django.template.context_processors.i18n",
                "omnicrm.console.context_processors.console",
            ],
        },
    },
]

DEFAULT_SQLITE_URL = f"sqlite:///{DATA_DIR / 'omnicrm.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", DEFAULT_SQLITE_URL), conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Not persistent by default: Django's threaded servers (runserver, the tests' live
    # server) start a thread per request, and each would leave a connection behind that
    # kept the file locked (a browser test waited out busy_timeout). `omnicrm serve` turns
    # persistence on for its pooled gunicorn threads (SQLITE_SERVED_CONN_MAX_AGE), where
    # reopening per request cost more than the request's queries
    # (docs/recommendations-serving.md, "What a request costs").
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Indexes carry extra columns (INCLUDE) for PostgreSQL's index-only scans; SQLite
    # builds them without, which is what they are meant to do there: no warning on every
    # command.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # WAL lets the web workers read while the task worker writes; IMMEDIATE
            # transactions avoid "database is locked" on lock upgrades.
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=15000;"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
    if "TEST" not in DATABASES["default"]:
        DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test_omnicrm.sqlite3")}

SQLITE_SERVED_CONN_MAX_AGE = 60

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "").strip()
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600}}
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

EMAIL_URL = os.environ.get("EMAIL_URL", "").strip()
if EMAIL_URL:
    vars().update(dj_email_url.parse(EMAIL_URL))
else:
    # Embedded mode: mail is written to files in the data directory (the console outbox).
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(DATA_DIR / "outbox")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "omnicrm <no-reply@localhost>")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "console:login"
LOGIN_REDIRECT_URL = "console:home"
LOGOUT_REDIRECT_URL = "console:login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("vi", "Tiếng Việt"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("OMNICRM_STATIC_ROOT", DATA_DIR / "static"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Merge rules of identity resolution, a JSON object (docs/identity.md); empty = defaults.
OMNICRM_IDENTITY_RULES = os.environ.get("OMNICRM_IDENTITY_RULES", "")

# The personal "for you" model: "ease" (default, chosen by the evaluation in
# benchmarks/results/recommendations_eval.md) or "itemknn". See docs/adr/0009.
OMNICRM_RECOMMENDER = os.environ.get("OMNICRM_RECOMMENDER", "ease").strip().lower()
if OMNICRM_RECOMMENDER not in {"ease", "itemknn"}:
    raise ImproperlyConfigured(
        f"OMNICRM_RECOMMENDER must be 'ease' or 'itemknn', not {OMNICRM_RECOMMENDER!r}"
    )
