"""A Django site serving django-scim2 the way its README sets it up: the SCIM routes under
/scim/v2/, a custom user model with the SCIM mixins, Django's own groups given a SCIM id.

Only what a deployer writes is here; the SCIM service is django-scim2's. The test harness sets
SCIM_PEER_STATE (the folder of the SQLite file), SCIM_PEER_NETLOC (host:port, for locations)
and SCIM_PEER_TOKEN (the bearer token the middleware accepts)."""

import os

STATE = os.environ["SCIM_PEER_STATE"]
SECRET_KEY = "a-test-server-on-loopback-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django_scim",
    "scimsite.directory",
]
MIDDLEWARE = [
    "scimsite.bearer.BearerTokenMiddleware",
    "django_scim.middleware.SCIMAuthCheckMiddleware",
]
ROOT_URLCONF = "scimsite.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(STATE, "db.sqlite3")}}
AUTH_USER_MODEL = "directory.User"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
SCIM_SERVICE_PROVIDER = {
    "NETLOC": os.environ["SCIM_PEER_NETLOC"],
    "SCHEME": "http",
    "GROUP_MODEL": "scimsite.directory.models.Group",
    "AUTHENTICATION_SCHEMES": [
        {"type": "oauthbearertoken", "name": "OAuth Bearer Token", "description": "A bearer token", "primary": True}
    ],
}
LOGGING = {"version": 1, "disable_existing_loggers": False}
