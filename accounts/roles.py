"""Roles are Django groups with a fixed capability set.

Process-level assignment groups (e.g. `managers`) are ordinary groups too; the
roles below are the ones the product itself checks.
"""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    REQUESTER = "requester", "Requester"
    APPROVER = "approver", "Approver"
    PROCESS_ADMIN = "process-admin", "Process admin"
    OPERATOR = "operator", "Operator"
    AUDITOR = "auditor", "Auditor"


# Django permission codenames ("app_label.codename") each role grants.
CAPABILITIES: dict[Role, frozenset[str]] = {
    Role.REQUESTER: frozenset({"orchestration.start_processinstance"}),
    Role.APPROVER: frozenset(),
    Role.PROCESS_ADMIN: frozenset(
        {
            "orchestration.view_processdefinition",
            "orchestration.add_processdefinition",
            "orchestration.change_processdefinition",
            "orchestration.view_processversion",
            "orchestration.add_processversion",
            "orchestration.change_processversion",
            "orchestration.publish_processversion",
            "orchestration.view_processinstance",
            "orchestration.operate_processinstance",
            "orchestration.start_processinstance",
            "orchestration.view_sweepfailure",
        }
    ),
    Role.OPERATOR: frozenset(
        {
            "orchestration.view_processdefinition",
            "orchestration.view_processversion",
            "orchestration.view_processinstance",
            "orchestration.operate_processinstance",
            "orchestration.view_sweepfailure",  # what the side sweeps could not do
            "orchestration.view_legalhold",
            "orchestration.hold_processinstance",
            "orchestration.erase_processinstance",
        }
    ),
    Role.AUDITOR: frozenset(
        {
            "orchestration.view_processevent",  # the audit log
            "orchestration.view_legalhold",
            "orchestration.hold_processinstance",
            "orchestration.view_processdefinition",
            "orchestration.view_processversion",
            "orchestration.view_processinstance",
        }
    ),
}
