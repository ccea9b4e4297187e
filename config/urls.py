from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("admin/", admin.site.urls),
    path("definitions/", include("orchestration.urls")),
    path("", include("tasks_ui.urls")),
]

if settings.ORCHESTRATION_DEMO:
    from orchestration.demo import views as demo_views

    urlpatterns += [
        path("demo/credit-bureau/score", demo_views.credit_score, name="demo-credit-score"),
    ]
