import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
# Web processes count their queries for /metrics (config/settings/base.py).
os.environ.setdefault("DATABASE_METRICS", "1")
application = get_wsgi_application()
