"""Who may open which console page: one decorator every console view wears.

The permission a view needs is stored on the view itself, so the navigation, the
"may this user open that page" checks and the tests all read the same single source.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django_htmx.http import HttpResponseClientRedirect

from omnicrm.core.errors import ApplicationError

View = Callable[..., HttpResponse]
PERMISSION_ATTRIBUTE = "console_permission"


def view_permission(view: Callable[..., Any]) -> str | None:
    """The permission a console view requires, or None when the view is not a console view."""
    return getattr(view, PERMISSION_ATTRIBUTE, None)


def may_open(user: Any, url_name: str, *args: Any) -> bool:
    """Whether ``user`` may open the console page named ``url_name``."""
    if not user.is_authenticated:
        return False
    try:
        view = resolve(reverse(url_name, args=args)).func
    except (NoReverseMatch, Resolver404):
        return False
    permission = view_permission(view)
    return permission is not None and user.has_perm(permission)


def forbidden(request: HttpRequest) -> HttpResponse:
    return render(request, "console/403.html", status=403)


def not_found(request: HttpRequest, message: str = "") -> HttpResponse:
    return render(request, "console/404.html", {"message": message}, status=404)


def application_error(request: HttpRequest, error: ApplicationError) -> HttpResponse:
    """The console's single mapping of domain errors to pages (404, 403, 409, 422...)."""
    if error.status == 404:
        return not_found(request, error.message)
    if error.status == 403:
        return forbidden(request)
    return render(request, "console/error.html", {"error": error}, status=error.status)


def _to_login(request: HttpRequest) -> HttpResponse:
    if getattr(request, "htmx", False):
        # A redirect inside an htmx swap would paste the login page into the fragment.
        return HttpResponseClientRedirect(reverse("console:login"))
    return redirect_to_login(request.get_full_path())


def staff_view(*, permission: str, fallback: str | None = None) -> Callable[[View], View]:
    """Require a logged-in user holding ``permission``.

    Anonymous users go to the login page (with ``next``); logged-in users without the
    permission get the 403 page, or are sent to ``fallback`` (a console URL name) when
    they may open that page instead. Domain errors raised by the view become error pages.
    """

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return _to_login(request)
            if not user.has_perm(permission):
                if fallback and may_open(user, fallback):
                    return HttpResponseRedirect(reverse(fallback))
                return forbidden(request)
            try:
                return view(request, *args, **kwargs)
            except ApplicationError as error:
                return application_error(request, error)

        setattr(wrapped, PERMISSION_ATTRIBUTE, permission)
        return wrapped

    return decorator
