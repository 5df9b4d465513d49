"""What the signed-link pages answer (approvals, surveys, report links): an HTML page by default, or JSON
``{"error": ...}`` to a client that asks for JSON and not for HTML (a browser's ``Accept`` names ``text/html``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Response

from chalicelib.api.responses import error_response

if TYPE_CHECKING:
    from chalice.app import Request


def wants_json(request: Request) -> bool:
    accept = (request.headers.get("accept") or "").lower()
    return "application/json" in accept and "text/html" not in accept


def html_answer(status: int, page: str) -> Response:
    """A whole HTML document (``pages.document``) with the pages' security headers."""
    from chalicelib.api.pages import HEADERS

    return Response(body=page, status_code=status, headers=dict(HEADERS))


def refusal(request: Request, status: int, message: str, titles: dict[int, str]) -> Response:
    """The link opens nothing: ``message`` under the page's title for ``status`` (``titles``), or as JSON."""
    from chalicelib.api.pages import message_page

    if wants_json(request):
        return error_response(status, message)
    return html_answer(status, message_page(titles.get(status, "Not possible"), message))
