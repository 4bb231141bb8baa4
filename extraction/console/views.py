"""The console's views: thin, over :mod:`.selectors` and the kernel's resubmit operation.

* ``GET /console/`` — the page (staff only; others are sent to the login page);
* ``GET /console/stats.json`` — totals per module, polled every few seconds by the page, which turns
  two readings into rates;
* ``GET /console/health.json`` — the readiness checks (``extraction.health.readiness``) and, per
  module, the one that says whether it can be reached; polled less often (it may wait on timeouts);
* ``GET|POST /console/login/`` — Django's login form, for processes without the admin (a generated
  service); only staff get past the console's check afterwards;
* ``POST /console/resubmit`` — ``ref=<module>:<id>`` (one dead letter) or ``event_type=<type>``
  (every dead letter of that type), CSRF-protected; it resubmits with
  ``contracts.kernel.operations.resubmit`` and redirects to the page, which shows what each
  resubmitted publication's status is now. Malformed input is a 400 naming the problem.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from contracts.kernel import UnknownName, get_module
from contracts.kernel.models import PublicationStatus
from contracts.kernel.operations import list_publications, parse_ref
from contracts.kernel.operations import resubmit as resubmit_publications

from ..health import readiness
from . import selectors
from .access import staff_only
from .svg import render_svg

__all__ = ["health", "index", "login", "resubmit", "stats"]

#: How many resubmitted refs the page reports back (the redirect carries them in its query string).
SHOWN_REFS = 50
MAX_FIELD = 200


def _resubmitted(request: HttpRequest) -> dict[str, Any] | None:
    raw = request.GET.get("resubmitted")
    if raw is None:
        return None
    refs = [r for r in raw.split(",") if r][:SHOWN_REFS]
    try:
        count = max(int(request.GET.get("count", len(refs))), 0)
    except ValueError:
        count = len(refs)
    return {"count": count, "statuses": selectors.publication_statuses(refs)}


@never_cache
@require_GET
@staff_only(login_redirect=True)
def index(request: HttpRequest) -> HttpResponse:
    numbers = selectors.module_numbers()
    letters = selectors.dead_letters()
    by_type: dict[str, int] = {}
    for letter in letters:
        by_type[letter.event_type] = by_type.get(letter.event_type, 0) + 1
    context = {
        "graph": render_svg(selectors.graph_nodes(), selectors.graph_edges()),
        "numbers": numbers,
        "dead_letters": letters,
        "dead_types": sorted(by_type.items()),
        "resubmitted": _resubmitted(request),
    }
    return render(request, "console/index.html", context)


@never_cache
@require_GET
@staff_only(login_redirect=False)
def stats(request: HttpRequest) -> JsonResponse:
    numbers = selectors.module_numbers()
    return JsonResponse(
        {"at": time.time(), "modules": {n.module: n.as_json() for n in numbers}, "dead": sum(n.dead for n in numbers)}
    )


def _module_health(label: str, transport: str, checks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The check that says whether ``label`` can be reached from here: its database when served
    here, its service when bound to HTTP, a worker on its queue when bound to Celery."""
    binding = getattr(settings, "SEAMS_BINDINGS", {}).get(label, {})
    if transport == "http":
        key = f"service:{label}"
    elif transport == "celery":
        key = f"workers:{binding.get('QUEUE')}"
    else:
        try:
            key = f"database:{get_module(label).database_alias}"
        except UnknownName:
            return {"ok": None, "detail": "not installed here"}
    result = checks.get(key)
    if result is None:
        return {"ok": None, "detail": f"{key} not checked"}
    return {"ok": bool(result["ok"]), "check": key, "detail": result.get("error") or "ok"}


@never_cache
@require_GET
@staff_only(login_redirect=False)
def health(request: HttpRequest) -> JsonResponse:
    _, body = readiness()
    modules = {node.label: _module_health(node.label, node.transport, body["checks"]) for node in selectors.graph_nodes()}
    return JsonResponse({**body, "modules": modules})


@require_POST
@staff_only(login_redirect=False)
def resubmit(request: HttpRequest) -> HttpResponse:
    ref = request.POST.get("ref", "").strip()
    event_type = request.POST.get("event_type", "").strip()
    if bool(ref) == bool(event_type):
        return HttpResponseBadRequest("Send either ref=<module>:<id> (one dead letter) or event_type=<type> (all of a type).")
    if len(ref) > MAX_FIELD or len(event_type) > MAX_FIELD:
        return HttpResponseBadRequest(f"ref and event_type are at most {MAX_FIELD} characters.")
    if ref:
        try:
            alias, pk = parse_ref(ref)
        except UnknownName as exc:
            return HttpResponseBadRequest(str(exc))
        refs = [f"{alias}:{pk}"]
    else:
        refs = [f"{alias}:{p.pk}" for alias, p in list_publications(status=PublicationStatus.DEAD, event_type=event_type, limit=10_000)]
    count = resubmit_publications(refs=refs, dead_only=True) if refs else 0
    query = urlencode({"resubmitted": ",".join(refs[:SHOWN_REFS]), "count": count})
    return HttpResponseRedirect(f"{reverse('console:index')}?{query}")


login = LoginView.as_view(template_name="console/login.html", redirect_authenticated_user=False)
