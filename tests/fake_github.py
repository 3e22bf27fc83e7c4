"""A real HTTP server on 127.0.0.1 that answers like the GitHub endpoints promptguard uses.

It keeps issue comments in memory, paginates listings with a `Link` header,
checks the bearer token, and replays failures queued with `fail_next`.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_LIST_OR_CREATE = re.compile(r"^/repos/([^/]+/[^/]+)/issues/([0-9]+)/comments$")
_ONE_COMMENT = re.compile(r"^/repos/([^/]+/[^/]+)/issues/comments/([0-9]+)$")
BODY_LIMIT = 65_536


@dataclasses.dataclass
class QueuedFailure:
    """A response to send instead of the normal one, to the next request that matches."""

    method: str
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    remaining: int


@dataclasses.dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: str


class FakeGitHub:
    """State and control of the fake server; `url` is its base URL."""

    def __init__(self, token: str, page_size: int = 100):
        self.token = token
        self.page_size = page_size
        self.comments: dict[int, dict[str, Any]] = {}
        self.minimized: set[str] = set()
        self.requests: list[RecordedRequest] = []
        self.failures: list[QueuedFailure] = []
        self.redirect_to: str | None = None
        self.next_link_override: str | None = None
        self._next_id = 1000
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def start(self) -> FakeGitHub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add_comment(self, body: str, login: str = "someone") -> dict[str, Any]:
        with self._lock:
            self._next_id += 1
            comment = {
                "id": self._next_id,
                "node_id": f"IC_node{self._next_id}",
                "body": body,
                "user": {"login": login, "type": "User"},
                "html_url": f"https://github.example/o/r/pull/1#issuecomment-{self._next_id}",
            }
            self.comments[self._next_id] = comment
            return comment

    def fail_next(
        self,
        method: str,
        status: int,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        self.failures.append(QueuedFailure(method, status, body or {"message": "fake failure"}, headers or {}, times))

    def requests_for(self, method: str) -> list[RecordedRequest]:
        return [request for request in self.requests if request.method == method]

    def _take_failure(self, method: str) -> QueuedFailure | None:
        for failure in self.failures:
            if failure.method == method and failure.remaining > 0:
                failure.remaining -= 1
                return failure
        return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, payload: Any = None, headers: dict[str, str] | None = None) -> None:
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode() if length else ""
                fake.requests.append(RecordedRequest(method, self.path, dict(self.headers.items()), raw))

                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    self._send(401, {"message": "Bad credentials"})
                    return
                if fake.redirect_to is not None:
                    self._send(301, {"message": "Moved Permanently"}, {"Location": fake.redirect_to})
                    return
                failure = fake._take_failure(method)
                if failure is not None:
                    self._send(failure.status, failure.body, failure.headers)
                    return

                parsed = urllib.parse.urlsplit(self.path)
                path = parsed.path.removeprefix("/api/v3")
                payload = json.loads(raw) if raw else None
                if path in ("/graphql", "/api/graphql") and method == "POST":
                    self._graphql(payload)
                elif (match := _LIST_OR_CREATE.match(path)) and method == "GET":
                    self._list(match.group(0), urllib.parse.parse_qs(parsed.query))
                elif (match := _LIST_OR_CREATE.match(path)) and method == "POST":
                    self._create(payload)
                elif (match := _ONE_COMMENT.match(path)) and method in ("PATCH", "DELETE"):
                    self._change(method, int(match.group(2)), payload)
                else:
                    self._send(404, {"message": "Not Found"})

            def _list(self, path: str, query: dict[str, list[str]]) -> None:
                page = int(query.get("page", ["1"])[0])
                ordered = [fake.comments[key] for key in sorted(fake.comments)]
                start = (page - 1) * fake.page_size
                chunk = ordered[start : start + fake.page_size]
                headers = {}
                if start + fake.page_size < len(ordered):
                    next_url = fake.next_link_override or f"{fake.url}{path}?per_page=100&page={page + 1}"
                    last = (len(ordered) - 1) // fake.page_size + 1
                    last_url = f"{fake.url}{path}?per_page=100&page={last}"
                    headers["Link"] = f'<{next_url}>; rel="next", <{last_url}>; rel="last"'
                self._send(200, chunk, headers)

            def _create(self, payload: dict[str, Any]) -> None:
                body = payload["body"]
                if len(body) > BODY_LIMIT:
                    self._send(
                        422,
                        {
                            "message": "Validation Failed",
                            "errors": [{"message": "body is too long (maximum is 65536 characters)"}],
                        },
                    )
                    return
                self._send(201, fake.add_comment(body, login="github-actions[bot]"))

            def _change(self, method: str, comment_id: int, payload: dict[str, Any] | None) -> None:
                comment = fake.comments.get(comment_id)
                if comment is None:
                    self._send(404, {"message": "Not Found"})
                elif method == "DELETE":
                    del fake.comments[comment_id]
                    self._send(204)
                else:
                    assert payload is not None
                    comment["body"] = payload["body"]
                    self._send(200, comment)

            def _graphql(self, payload: dict[str, Any]) -> None:
                node_id = payload["variables"]["id"]
                if "minimizeComment" not in payload["query"]:
                    self._send(200, {"errors": [{"message": "unknown query"}]})
                elif not any(comment["node_id"] == node_id for comment in fake.comments.values()):
                    self._send(
                        200,
                        {"errors": [{"message": f"Could not resolve to a node with the id '{node_id}'"}]},
                    )
                else:
                    fake.minimized.add(node_id)
                    self._send(
                        200,
                        {"data": {"minimizeComment": {"minimizedComment": {"isMinimized": True}}}},
                    )

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PATCH(self) -> None:
                self._handle("PATCH")

            def do_DELETE(self) -> None:
                self._handle("DELETE")

        return Handler
