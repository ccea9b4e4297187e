from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import URLPattern, URLResolver, include, path
from django.utils.translation import gettext_lazy

from orchestration import operations

admin.site.site_header = gettext_lazy("Process engine administration")
admin.site.site_title = gettext_lazy("Process engine admin")
admin.site.index_title = gettext_lazy("Definitions, instances and people")

urlpatterns: list[URLPattern | URLResolver] = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("definitions/", include("orchestration.urls")),
    path("api/", include("api.urls")),
    path("metrics", operations.metrics, name="metrics"),
    path("healthz", operations.healthz, name="healthz"),
    path("readyz", operations.readyz, name="readyz"),
    path("", include("tasks_ui.urls")),
]

if settings.ORCHESTRATION_DEMO:
    from orchestration.demo import views as demo_views

    urlpatterns += [
        path("demo/credit-bureau/score", demo_views.credit_score, name="demo-credit-score"),
    ]
