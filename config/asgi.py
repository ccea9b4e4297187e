import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
# Web processes count their queries for /metrics (config/settings/base.py).
os.environ.setdefault("DATABASE_METRICS", "1")
application = get_asgi_application()
