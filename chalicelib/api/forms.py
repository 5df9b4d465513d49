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
    raw = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
    content_type = request.headers.get("content-type") or ""
    if content_type.partition(";")[0].strip().lower() == "multipart/form-data":
        fields = _multipart_fields(raw, content_type)
    else:
        fields = {name: values[0] for name, values in parse_qs(raw.decode("utf-8", "replace")).items()}
    try:
        return model.model_validate(fields)
    except ValidationError as invalid:
        raise FormInvalid(describe_validation_error(invalid, limit=None, root="form")) from None


def _multipart_fields(raw: bytes, content_type: str) -> dict[str, str]:
    """The text fields of a ``multipart/form-data`` body (a form sent with that ``enctype``, or ``curl -F``), the
    first of each name; files are not fields. The standard library's MIME parser never raises on a malformed body:
    it yields no parts, and the model then names the missing fields."""
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n" + raw
    )
    fields: dict[str, str] = {}
    for part in message.iter_parts() if message.is_multipart() else ():
        name = part.get_param("name", header="content-disposition")
        if isinstance(name, str) and name not in fields and part.get_filename() is None:
            payload = part.get_payload(decode=True)
            fields[name] = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return fields
