"""The form POSTs of the signed pages (approval and survey links): one reading of the request for both."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar
from urllib.parse import parse_qs

if TYPE_CHECKING:
    from chalice.app import Request
    from pydantic import BaseModel

    Form = TypeVar("Form", bound=BaseModel)

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class FormInvalid(ValueError):
    """The form's fields do not fit its model; the message names each problem (a 400)."""


def is_form_post(request: Request) -> bool:
    """The page's own form sent this: anything else is answered 415 before the link is even looked at."""
    content_type = (request.headers.get("content-type") or "").partition(";")[0].strip().lower()
    return content_type in FORM_TYPES


def read_form(request: Request, model: type[Form]) -> Form:
    """The posted fields (the first value of each) as ``model``; :class:`FormInvalid` naming what is wrong."""
    from pydantic import ValidationError

    from chalicelib.domain.validation import describe_validation_error

    raw = request.raw_body or b""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    fields = {name: values[0] for name, values in parse_qs(text).items()}
    try:
        return model.model_validate(fields)
    except ValidationError as invalid:
        raise FormInvalid(describe_validation_error(invalid, limit=None, root="form")) from None
