from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrchestrationConfig(AppConfig):
    name = "orchestration"
    verbose_name = _("Processes")

    def ready(self) -> None:
        from orchestration import checks, handlers  # noqa: F401 - registers system checks

        handlers.autodiscover()
        # Deleting a user or group that open tasks name is refused.
        from orchestration import candidates

        candidates.connect()
        # Traces when ORCHESTRATION_TRACING asks for them; before the first
        # request, since Django's instrumentation adds a middleware.
        from orchestration import tracing

        tracing.configure()
