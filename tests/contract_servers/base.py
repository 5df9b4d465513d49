"""The threaded server every platform's contract server builds on (127.0.0.1, port 0)."""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# Scripted faults, applied to the next write (a POST that would publish), in order.
ACCEPT_THEN_HANG = "accept_then_hang"  # the post is stored, the answer comes after the client gave up
RATE_LIMIT = "rate_limit"  # 429 (or the platform's throttling error) with its reset hints
UNAVAILABLE = "unavailable"  # 503, nothing stored
EXPIRE_TOKEN = "expire_token"  # the access token stops working; the refresh grant still works
REVOKE = "revoke"  # every token and grant stops working (the brand revoked the app)
HANG_SECONDS = 2.0


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip()

    def bearer(self) -> str | None:
        value = self.headers.get("authorization", "")
        return value[7:] if value.startswith("Bearer ") else None

    def basic(self) -> tuple[str, str] | None:
        value = self.headers.get("authorization", "")
        if not value.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(value[6:]).decode().partition(":")
        return user, password


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


Route = Callable[[Request, re.Match[str]], Answer]


class ContractServer:
    """Subclasses register routes with :meth:`route` and keep their platform's state."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.routes: list[tuple[str, re.Pattern[str], Route, bool]] = []
        self.faults: list[str] = []
        self.log: list[tuple[str, str]] = []  # (method, path) of every request
        self.violations: list[str] = []  # requests that broke the contract (a test asserts none)
        self.access_tokens: set[str] = set()
        self.released = threading.Event()
        self.httpd: ThreadingHTTPServer | None = None

    # -- set-up ---------------------------------------------------------------------------------------------
    def route(self, method: str, pattern: str, handler: Route, write: bool = False) -> None:
        self.routes.append((method, re.compile(pattern + r"\Z"), handler, write))

    def script(self, *faults: str) -> None:
        with self.lock:
            self.faults.extend(faults)

    def issue_access_token(self) -> str:
        token = "at-" + secrets.token_hex(8)
        with self.lock:
            self.access_tokens.add(token)
        return token

    def calls(self, method: str, path_pattern: str) -> int:
        pattern = re.compile(path_pattern + r"\Z")
        return sum(1 for m, p in self.log if m == method and pattern.match(p))

    @property
    def url(self) -> str:
        assert self.httpd is not None
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> ContractServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                request = Request(
                    self.command,
                    parts.path,
                    {k: v[0] for k, v in parse_qs(parts.query).items()},
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                answer = server.dispatch(request)
                if answer.hang:
                    server.released.wait(HANG_SECONDS)
                payload = b"" if answer.body is None else json.dumps(answer.body).encode()
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    if payload:
                        self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the timeout the test scripted)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.released.set()
        assert self.httpd is not None
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- serving --------------------------------------------------------------------------------------------
    def dispatch(self, request: Request) -> Answer:
        with self.lock:
            self.log.append((request.method, request.path))
            allowed = []
            for method, pattern, handler, write in self.routes:
                match = pattern.match(request.path)
                if not match:
                    continue
                allowed.append(method)
                if method != request.method:
                    continue
                fault = self.faults.pop(0) if write and self.faults else None
                if fault == REVOKE:
                    self.revoke()
                elif fault == EXPIRE_TOKEN:
                    self.access_tokens.clear()
                elif fault == RATE_LIMIT:
                    return self.rate_limited(request)
                elif fault == UNAVAILABLE:
                    return self.unavailable(request)
                try:
                    answer = handler(request, match)
                except ContractViolation as violation:
                    self.violations.append(f"{request.method} {request.path}: {violation.message}")
                    return self.error(violation.status, violation.message)
                if fault == ACCEPT_THEN_HANG:
                    answer.hang = True
                return answer
            if allowed:
                return self.error(405, f"{request.method} is not allowed on {request.path}")
            return self.error(404, f"no such endpoint {request.path}")

    # -- what a platform answers (subclasses override with their documented bodies) ----------------------------
    def revoke(self) -> None:
        self.access_tokens.clear()

    def error(self, status: int, message: str) -> Answer:
        return Answer(status, {"error": message})

    def rate_limited(self, request: Request) -> Answer:
        return self.error(429, "Too Many Requests")

    def unavailable(self, request: Request) -> Answer:
        return self.error(503, "Service Unavailable")


def now() -> datetime:
    return datetime.now(timezone.utc)


def require(condition: bool, status: int, message: str) -> None:
    if not condition:
        raise ContractViolation(status, message)


class ContractViolation(Exception):
    """A request that breaks the documented contract; the server answers it as the platform would."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
