from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and roles")

    def ready(self) -> None:
        # Roles changed in this process: the access cache forgets at once
        # (accounts/access.py; other processes within its few seconds).
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group, Permission
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from accounts.access import forget

        user = get_user_model()
        for through in (user.groups.through, user.user_permissions.through,
                        Group.permissions.through):  # fmt: skip
            m2m_changed.connect(forget, sender=through, dispatch_uid=f"access-{through}")
        for model in (user, Group, Permission):
            post_save.connect(forget, sender=model, dispatch_uid=f"access-save-{model}")
            post_delete.connect(forget, sender=model, dispatch_uid=f"access-delete-{model}")
