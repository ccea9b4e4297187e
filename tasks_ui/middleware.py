"""Styled error pages for people, everywhere but the admin and the API.

A 403 or 404 answers with the site's own page and the reason, also while
DEBUG is on (Django would show its technical page for a 404 then), and for
objects the policy hides (views raise Http404 for those, so existence is not
leaked). The API (later) answers problem details instead, so it is left alone.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

_PLAIN = ("/admin/", "/api/", "/static/")
_LAYOUT = b'<header class="topbar">'  # every page that extends base.html


class StyledErrorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code in {403, 404}
            and not getattr(response, "styled", False)
            and not request.path.startswith(_PLAIN)
            and response.get("Content-Type", "").startswith("text/html")
            and not response.streaming
            and _LAYOUT not in response.content  # a page of ours says why itself
        ):
            text = (
                _("There is no such page.")
                if response.status_code == 404
                else _("You may not do this.")
            )
            return self._page(request, response.status_code, text)
        return response

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if request.path.startswith(_PLAIN):
            return None
        if isinstance(exc, Http404):
            return self._page(request, 404, str(exc) or _("There is no such page."))
        if isinstance(exc, PermissionDenied):
            return self._page(request, 403, str(exc) or _("You may not do this."))
        return None

    @staticmethod
    def _page(request: HttpRequest, status: int, text: str) -> HttpResponse:
        response = TemplateResponse(
            request, "error.html", {"status": status, "text": text}, status=status
        )
        response.render()
        response.styled = True  # type: ignore[attr-defined]
        return response
