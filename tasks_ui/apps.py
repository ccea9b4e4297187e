from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TasksUiConfig(AppConfig):
    name = "tasks_ui"
    verbose_name = _("Inbox")
