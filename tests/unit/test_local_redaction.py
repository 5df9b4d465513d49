"""Local log files keep routes and ids, never a link signature, token or secret."""

from infra.local.redaction import REDACTED, Redactor


def test_the_access_log_line_of_an_approval_link_loses_its_signature_and_capability():
    line = (
        '127.0.0.1 - - [24/Nov/2026 06:53:21] "GET /approvals/Zk3_x-9QabcdEFGH12345w?exp=1795000000&'
        'sig=9f2c0d7e6b5a4938271605f4e3d2c1b0a9f8e7d6c5b4a3928170f6e5d4c3b2a1 HTTP/1.1" 200 -\n'
    )
    redacted = Redactor()(line)
    assert "sig=9f2c" not in redacted and "Zk3_x" not in redacted and "1795000000" not in redacted
    assert redacted == (
        f'127.0.0.1 - - [24/Nov/2026 06:53:21] "GET /approvals/{REDACTED}?exp={REDACTED}&'
        f'sig={REDACTED} HTTP/1.1" 200 -\n'
    )


def test_tokens_cursors_handshakes_and_signatures_are_redacted_wherever_they_appear():
    redact = Redactor()
    assert redact("GET /webhooks/x?crc_token=abc123def HTTP/1.1") == f"GET /webhooks/x?crc_token={REDACTED} HTTP/1.1"
    assert redact("GET /issues?status=open&cursor=eyJrIjoiIn0.c2ln&limit=5") == (
        f"GET /issues?status=open&cursor={REDACTED}&limit=5"
    )
    assert redact("GET /x?TOKEN=abc&Sig=DEF") == f"GET /x?TOKEN={REDACTED}&Sig={REDACTED}"
    assert redact("GET /surveys/s3cr3tS3gment/answer") == f"GET /surveys/{REDACTED}/answer"
    assert redact('{"Authorization": "Bearer abc.def.ghi"}') == f'{{"Authorization": "Bearer {REDACTED}"}}'
    assert redact('{"taskToken": "AQCEAAAAKgAAAAMAAAAAAAAAA"}') == f'{{"taskToken": "{REDACTED}"}}'
    assert redact("x-hub-signature-256: sha256=0123456789abcdef0123456789abcdef") == (
        f"x-hub-signature-256: sha256={REDACTED}"
    )


def test_every_secret_of_the_run_is_redacted_literally_and_ids_are_kept():
    secrets = {"LINK_SIGNING_KEY": "k" * 43, "OPS_ADMIN_TOKEN": "t0k3n-value-xyz", "SHORT": "abc"}
    redact = Redactor(lambda: secrets.values())
    line = f"boot with {'k' * 43} and t0k3n-value-xyz for issue iss-20261124T064001-b808f3fd (abc)"
    assert redact(line) == f"boot with {REDACTED} and {REDACTED} for issue iss-20261124T064001-b808f3fd (abc)"
    secrets["LATER"] = "learned-after-start"  # read on every line: secrets seeded after moto started count too
    assert redact("learned-after-start") == REDACTED


def test_ordinary_lines_pass_unchanged():
    line = '127.0.0.1 - - [24/Nov/2026 06:53:21] "GET /issues/iss-20261124T064001-b808f3fd HTTP/1.1" 200 -\n'
    assert Redactor()(line) == line
