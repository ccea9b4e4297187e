from csp.decorators import csp_update
from django.urls import URLPattern, path
from drf_spectacular.views import SpectacularSwaggerSplitView

from api.schema import SchemaView
from api.views import attachments, definitions, external, instances, messages, reports, tasks

app_name = "api"

urlpatterns: list[URLPattern] = [
    path("schema/", SchemaView.as_view(), name="schema"),
    # Swagger UI sets inline styles on its elements; its scripts stay files of
    # this site (the split view serves its start-up script as a file too).
    path(
        "docs/",
        csp_update({"style-src": ["'unsafe-inline'"]})(
            SpectacularSwaggerSplitView.as_view(url_name="api:schema")
        ),
        name="docs",
    ),
    path("v1/definitions", definitions.DefinitionList.as_view(), name="definitions"),
    path("v1/definitions/<slug:key>", definitions.DefinitionDetail.as_view(), name="definition"),
    path(
        "v1/definitions/<slug:key>/migrations",
        definitions.DefinitionMigration.as_view(),
        name="definition-migrations",
    ),
    path(
        "v1/definitions/<slug:key>/versions",
        definitions.VersionDeploy.as_view(),
        name="definition-deploy",
    ),
    path(
        "v1/definitions/<slug:key>/versions/<int:number>/publish",
        definitions.VersionPublish.as_view(),
        name="version-publish",
    ),
    path("v1/instances", instances.InstanceCollection.as_view(), name="instances"),
    path("v1/instances/<int:pk>", instances.InstanceDetail.as_view(), name="instance"),
    path(
        "v1/instances/<int:pk>/attachments",
        attachments.InstanceAttachments.as_view(),
        name="instance-attachments",
    ),
    path("v1/attachments/<int:pk>", attachments.AttachmentContent.as_view(), name="attachment"),
    path(
        "v1/instances/<int:pk>/history",
        instances.InstanceHistory.as_view(),
        name="instance-history",
    ),
    path(
        "v1/instances/<int:pk>/cancel", instances.InstanceCancel.as_view(), name="instance-cancel"
    ),
    path("v1/instances/<int:pk>/retry", instances.InstanceRetry.as_view(), name="instance-retry"),
    path(
        "v1/instances/<int:pk>/suspend",
        instances.InstanceSuspend.as_view(),
        name="instance-suspend",
    ),
    path(
        "v1/instances/<int:pk>/resume", instances.InstanceResume.as_view(), name="instance-resume"
    ),
    path("v1/instances/<int:pk>/move", instances.InstanceMove.as_view(), name="instance-move"),
    path(
        "v1/instances/<int:pk>/variables",
        instances.InstanceVariables.as_view(),
        name="instance-variables",
    ),
    path(
        "v1/instances/<int:pk>/messages",
        instances.InstanceMessage.as_view(),
        name="instance-messages",
    ),
    path(
        "v1/external-tasks/fetch-and-lock", external.FetchAndLock.as_view(), name="external-fetch"
    ),
    path(
        "v1/external-tasks/complete",
        external.CompleteExternalBatch.as_view(),
        name="external-complete-many",
    ),
    path(
        "v1/external-tasks/<int:pk>/complete",
        external.CompleteExternal.as_view(),
        name="external-complete",
    ),
    path("v1/external-tasks/<int:pk>/fail", external.FailExternal.as_view(), name="external-fail"),
    path(
        "v1/external-tasks/<int:pk>/extend-lock",
        external.ExtendLock.as_view(),
        name="external-extend-lock",
    ),
    path("v1/messages", messages.MessageCorrelate.as_view(), name="messages"),
    path("v1/reports/<slug:key>", reports.ReportDetail.as_view(), name="report"),
    path("v1/tasks", tasks.TaskCollection.as_view(), name="tasks"),
    path("v1/tasks/<int:pk>", tasks.TaskDetail.as_view(), name="task"),
    path("v1/tasks/<int:pk>/claim", tasks.TaskClaim.as_view(), name="task-claim"),
    path("v1/tasks/<int:pk>/release", tasks.TaskRelease.as_view(), name="task-release"),
    path("v1/tasks/<int:pk>/delegate", tasks.TaskDelegate.as_view(), name="task-delegate"),
    path("v1/tasks/<int:pk>/complete", tasks.TaskComplete.as_view(), name="task-complete"),
    path("v1/tasks/<int:pk>/force", tasks.TaskForce.as_view(), name="task-force"),
    path("v1/tasks/<int:pk>/ask-input", tasks.TaskAskInput.as_view(), name="task-ask-input"),
]
