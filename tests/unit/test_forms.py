"""The signed pages' form POSTs read the same fields whichever encoding the browser or client chose."""

from types import SimpleNamespace

import pytest
from pydantic import BaseModel

from chalicelib.api.forms import FormInvalid, is_form_post, read_form


class Answer(BaseModel):
    outcome: str
    draft: str


def posted(body: bytes, content_type: str) -> SimpleNamespace:
    return SimpleNamespace(headers={"content-type": content_type}, raw_body=body)


def multipart(fields: list[tuple[str, str]], boundary: str = "x7", filename: str | None = None) -> bytes:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"'
        + (f'; filename="{filename}"' if filename and name == "draft" else "")
        + f"\r\n\r\n{value}\r\n"
        for name, value in fields
    ]
    return ("".join(parts) + f"--{boundary}--\r\n").encode()


def test_multipart_and_urlencoded_read_the_same_fields():
    urlencoded = posted(b"outcome=submitted&draft=Sorry+%E2%80%94+we%27re+on+it", "application/x-www-form-urlencoded")
    body = multipart([("outcome", "submitted"), ("draft", "Sorry — we're on it"), ("outcome", "ignored")])
    sent = posted(body, "multipart/form-data; boundary=x7")
    assert is_form_post(sent) and is_form_post(urlencoded)
    assert (
        read_form(sent, Answer)
        == read_form(urlencoded, Answer)
        == Answer(outcome="submitted", draft="Sorry — we're on it")
    )


@pytest.mark.parametrize(
    "request_",
    [
        posted(multipart([("outcome", "submitted"), ("draft", "hi")]), "multipart/form-data"),  # no boundary
        posted(b"--x7\r\ngarbage", "multipart/form-data; boundary=x7"),
        posted(
            multipart([("outcome", "submitted"), ("draft", "hi")], filename="a.txt"), "multipart/form-data; boundary=x7"
        ),
    ],
    ids=["no-boundary", "truncated", "file-is-no-field"],
)
def test_a_multipart_body_without_the_fields_names_them(request_):
    with pytest.raises(FormInvalid, match="draft"):
        read_form(request_, Answer)
