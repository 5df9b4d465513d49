"""No route without a decided role: every route of the app is either declared with ``ops_route`` (which records
its role) or in the explicit list of public ones below (webhooks, the approval pages, /health)."""

from __future__ import annotations

import json

from chalicelib.api.auth import PUBLIC, ROLE_ATTRIBUTE, ROUTES, ops_route
from chalicelib.api.methods import method_not_allowed
from chalicelib.domain.ops import Role

PUBLIC_ROUTES = {  # called by platforms (signed), approvers' browsers (signed links) and load balancers
    "/webhooks/{platform_name}",
    "/health",
    "/approvals/{approval_id}",
    "/surveys/{survey_id}",  # the authors' satisfaction surveys (signed links)
    "/reports/{week}/open",  # a report recipient's emailed link (signed, single-use)
}


def routes_without_a_role(app) -> list[str]:
    missing = []
    for path, methods in app.routes.items():
        for method, entry in methods.items():
            role = getattr(entry.view_function, ROLE_ATTRIBUTE, None)
            if entry.view_function is method_not_allowed:  # a 405 for the methods a path lacks: reads nothing
                continue
            if role is None and path not in PUBLIC_ROUTES:
                missing.append(f"{method} {path}")
            if role is not None and role != PUBLIC:
                assert isinstance(role, Role), (path, role)
    return missing


def test_every_route_has_a_role_or_is_listed_public():
    import app

    assert routes_without_a_role(app.app) == []


def test_a_route_added_without_a_role_is_caught():
    from chalice import Blueprint, Chalice

    import app

    probe = Chalice(app_name="probe")
    for path, methods in app.app.routes.items():
        probe.routes[path] = dict(methods)
    extra = Blueprint("probe")

    @extra.route("/issues/{issue_id}/escalate", methods=["POST"])
    def escalate(issue_id):  # pragma: no cover - never called
        return {}

    documented = list(ROUTES)

    @ops_route(extra, "/issues/{issue_id}/probe", "POST", Role.RESPONDER, "checked")
    def probe_route(issue_id):  # pragma: no cover - never called
        return {}

    ROUTES[:] = documented  # the probe is not the app's: /openapi.json must not list it

    probe.register_blueprint(extra)
    assert routes_without_a_role(probe) == ["POST /issues/{issue_id}/escalate"]


def test_a_role_must_be_a_role():
    import pytest
    from chalice import Blueprint

    with pytest.raises(TypeError):
        ops_route(Blueprint("x"), "/x", "GET", "viewer", "a string is not a role")


def test_a_method_a_path_does_not_serve_is_a_405_naming_it_with_allow():
    from chalice.test import Client

    import app

    with Client(app.app) as client:
        for method, path, allowed in (
            ("post", "/issues", "GET"),
            ("delete", "/issues/i-1", "GET, PATCH"),
            ("put", "/reports/2026-W48/open", "GET, POST"),
            ("patch", "/webhooks/x", "GET, POST"),
        ):
            answer = getattr(client.http, method)(path)
            assert answer.status_code == 405 and answer.headers["Allow"] == allowed, (method, path)
            assert json.loads(answer.body)["error"].startswith(f"{method.upper()} is not allowed on /"), answer.body
