from django.urls import path

from tasks_ui import (
    absences,
    attachments,
    audit_log,
    inbox,
    instances,
    preferences,
    start,
    task_page,
    views,
)
from tasks_ui.email_decision import decide_from_email

app_name = "tasks_ui"

urlpatterns = [
    path("", views.home, name="home"),
    path("inbox/", inbox.inbox, name="inbox"),
    path("inbox/changes/", inbox.inbox_changes, name="inbox-changes"),
    path("inbox/bulk/", inbox.bulk, name="bulk"),
    path("inbox/filters/", inbox.save_filter, name="filter-save"),
    path("inbox/filters/<int:pk>/delete/", inbox.delete_filter, name="filter-delete"),
    path("tasks/<int:pk>/", task_page.task_detail, name="task"),
    path("tasks/<int:pk>/decide/", task_page.decide, name="decide"),
    path("tasks/<int:pk>/claim/", task_page.claim, name="claim"),
    path("tasks/<int:pk>/release/", task_page.release, name="release"),
    path("tasks/<int:pk>/delegate/", task_page.delegate, name="delegate"),
    path("tasks/<int:pk>/hand-back/", task_page.hand_back, name="hand-back"),
    path("tasks/<int:pk>/reassign/", task_page.reassign, name="reassign"),
    path("tasks/<int:pk>/force/", task_page.force, name="force"),
    path("tasks/<int:pk>/ask-input/", task_page.ask_input, name="ask-input"),
    path("tasks/<int:pk>/snooze/", task_page.snooze, name="snooze"),
    path("tasks/<int:pk>/comment/", task_page.comment, name="comment"),
    path("tasks/<int:pk>/attachments/", attachments.task_attach, name="task-attach"),
    path("attachments/<int:pk>/", attachments.download, name="attachment"),
    path("start/", start.start_list, name="start-list"),
    path("start/<slug:key>/", start.start_form, name="start"),
    path("instances/", instances.instance_list, name="instances"),
    path("instances/<int:pk>/", instances.instance_detail, name="instance"),
    path("instances/<int:pk>/retry/", instances.instance_retry, name="instance-retry"),
    path("instances/<int:pk>/cancel/", instances.instance_cancel, name="instance-cancel"),
    path("instances/<int:pk>/send/<str:name>/", instances.instance_send, name="instance-send"),
    path("instances/<int:pk>/suspend/", instances.instance_suspend, name="instance-suspend"),
    path("instances/<int:pk>/resume/", instances.instance_resume, name="instance-resume"),
    path("instances/<int:pk>/move/", instances.instance_move, name="instance-move"),
    path("absences/", absences.absences, name="absences"),
    path("settings/", preferences.preferences, name="preferences"),
    path("absences/<int:pk>/delete/", absences.absence_delete, name="absence-delete"),
    path("audit/", audit_log.audit_log, name="audit"),
    path("audit/export.csv", audit_log.audit_csv, name="audit-csv"),
    path("decide/<str:token>/", decide_from_email, name="decide-from-email"),
]
