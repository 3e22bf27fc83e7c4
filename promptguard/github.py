"""A small client for the GitHub REST and GraphQL endpoints that pull-request comments use.

It retries server errors (5xx), 429 and secondary rate limits with exponential
backoff that honours `Retry-After`. The token is sent only in the
`Authorization` header, and only to the host of the configured API URL:
redirects are not followed, and pagination links to other hosts are rejected.
Log and exception messages built here replace the token with `***`.
"""

from __future__ import annotations

import dataclasses
import email.utils
import http.client
import ipaddress
import json
import logging
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

from promptguard import __version__
from promptguard.errors import PromptguardError

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.github.com"
_REPOSITORY_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_PULL_REF_PATTERN = re.compile(r"^refs/pull/([0-9]+)/(merge|head)$")
_NEXT_LINK_PATTERN = re.compile(r'<([^>]+)>\s*;\s*rel="next"')


class GitHubError(PromptguardError):
    """A GitHub API request failed; `status` is the HTTP status, or None when no response came."""

    def __init__(self, message: str, *, status: int | None = None, fix: str | None = None):
        super().__init__(message, fix=fix)
        self.status = status


@dataclasses.dataclass(frozen=True)
class PullRequestTarget:
    """A pull request to comment on, and whether it comes from a fork (None when unknown)."""

    repository: str
    number: int
    from_fork: bool | None = None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Stop at redirects, because urllib would resend the Authorization header to the new host."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_api_url(api_url: str) -> str:
    """Return the API URL without a trailing slash, or raise GitHubError.

    Plain http is accepted only for loopback hosts, so the token is never sent
    unencrypted over a network.
    """
    parsed = urllib.parse.urlsplit(api_url)
    host = parsed.hostname or ""
    if parsed.scheme not in ("https", "http") or not host:
        raise GitHubError(
            f"invalid GitHub API URL {api_url!r}",
            fix="use https://api.github.com or https://HOST/api/v3 for GitHub Enterprise Server",
        )
    if parsed.scheme == "http" and not _is_loopback(host):
        raise GitHubError(
            f"GitHub API URL {api_url!r} uses plain http",
            fix="use https, so the token is not sent unencrypted",
        )
    return api_url.rstrip("/")


def graphql_url_for(api_url: str) -> str:
    """Return the GraphQL endpoint for a REST API URL.

    GitHub.com serves both under https://api.github.com, and GitHub Enterprise
    Server serves REST at /api/v3 and GraphQL at /api/graphql.
    """
    if api_url.endswith("/api/v3"):
        return api_url[: -len("/v3")] + "/graphql"
    return api_url + "/graphql"


def _retry_after_seconds(headers: Mapping[str, str], now: float) -> float | None:
    """Return the seconds to wait from `Retry-After` or an exhausted rate limit, or None."""
    retry_after = headers.get("Retry-After")
    if retry_after:
        if retry_after.strip().isdigit():
            return float(retry_after.strip())
        try:
            moment = email.utils.parsedate_to_datetime(retry_after)
        except (TypeError, ValueError):
            return None
        return max(0.0, moment.timestamp() - now)

    if headers.get("X-RateLimit-Remaining") == "0":
        reset = headers.get("X-RateLimit-Reset", "")
        if reset.isdigit():
            return max(0.0, float(reset) - now)
    return None


def _is_rate_limit(status: int, headers: Mapping[str, str], body: str) -> bool:
    """Tell a rate-limit 403 (retried) from a permission 403 (not retried)."""
    if status == 429:
        return True
    if status != 403:
        return False
    if "Retry-After" in headers or headers.get("X-RateLimit-Remaining") == "0":
        return True
    return "rate limit" in body.lower()


def _error_message(body: str) -> str:
    """Return GitHub's `message` field from an error body, or the start of the body."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body[:200].strip()
    if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        return str(parsed["message"])
    return body[:200].strip()


class GitHubClient:
    """GitHub REST and GraphQL calls for issue comments, with retries.

    `sleep` (default `time.sleep`, looked up when the client is built) is
    injectable so tests do not wait. Waits are capped at
    `max_wait_seconds`, and a request is tried at most `max_attempts` times.
    """

    def __init__(
        self,
        token: str,
        api_url: str = DEFAULT_API_URL,
        *,
        graphql_url: str | None = None,
        sleep: Callable[[float], None] | None = None,
        max_attempts: int = 5,
        backoff_seconds: float = 1.0,
        max_wait_seconds: float = 60.0,
        timeout_seconds: float = 30.0,
    ):
        if not token:
            raise GitHubError("the GitHub token is empty", fix="set GITHUB_TOKEN")
        self._token = token
        self.api_url = validate_api_url(api_url)
        self.graphql_url = graphql_url or graphql_url_for(self.api_url)
        self._sleep = sleep if sleep is not None else time.sleep
        self._max_attempts = max_attempts
        self._backoff_seconds = backoff_seconds
        self._max_wait_seconds = max_wait_seconds
        self._timeout_seconds = timeout_seconds
        self._opener = urllib.request.build_opener(_NoRedirects())
        origin = urllib.parse.urlsplit(self.api_url)
        self._origin = (origin.scheme, origin.netloc)

    def __repr__(self) -> str:
        return f"GitHubClient(api_url={self.api_url!r})"

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***")

    def _check_origin(self, url: str) -> None:
        parsed = urllib.parse.urlsplit(url)
        if (parsed.scheme, parsed.netloc) != self._origin:
            raise GitHubError(
                f"refusing to send the token to {parsed.netloc}, another host than the API URL",
                fix="check GITHUB_API_URL and GITHUB_GRAPHQL_URL",
            )

    def request(self, method: str, url: str, payload: Mapping[str, Any] | None = None) -> tuple[Any, Mapping[str, str]]:
        """Send one API request with retries; return the decoded JSON body (or None) and headers.

        Raises GitHubError for a non-2xx status after the last retry, or at
        once for a status that a retry cannot fix (401, a permission 403, 404, 422).
        """
        self._check_origin(url)
        data = json.dumps(payload).encode("utf-8") if payload is not None else None

        for attempt in range(1, self._max_attempts + 1):
            status, headers, body = self._send(method, url, data)
            if 200 <= status < 300:
                return self._decode_body(method, url, status, body), headers

            retryable = status >= 500 or status == 0 or _is_rate_limit(status, headers, body)
            reason = f"HTTP {status}" if status else body
            if not retryable or attempt == self._max_attempts:
                detail = _error_message(body) if status else body
                suffix = f" after {attempt} attempts" if retryable else ""
                raise GitHubError(
                    self._redact(f"GitHub API {method} {url} failed{suffix}: {reason} {detail}".strip()),
                    status=status or None,
                )

            wait = _retry_after_seconds(headers, time.time())
            if wait is None:
                wait = self._backoff_seconds * 2 ** (attempt - 1)
            wait = min(wait, self._max_wait_seconds)
            logger.info(
                "GitHub API %s %s: %s, retrying in %.1f s (attempt %d of %d)",
                method,
                url,
                self._redact(reason),
                wait,
                attempt + 1,
                self._max_attempts,
            )
            self._sleep(wait)

        raise AssertionError("the retry loop always returns or raises")

    def _decode_body(self, method: str, url: str, status: int, body: str) -> Any:
        """Parse a successful response as JSON; a proxy or captive portal may answer with HTML instead."""
        if not body.strip():
            return None
        try:
            return json.loads(body)
        except ValueError:
            raise GitHubError(
                self._redact(f"GitHub API {method} {url} returned HTTP {status} with a body that is not JSON"),
                status=status,
                fix="check GITHUB_API_URL and any proxy between the runner and GitHub",
            ) from None

    def _send(self, method: str, url: str, data: bytes | None) -> tuple[int, Mapping[str, str], str]:
        """Send a request once; return status (0 when no response came), headers and body text."""
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self._token}")
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("X-GitHub-Api-Version", "2022-11-28")
        request.add_header("User-Agent", f"promptguard/{__version__}")
        if data is not None:
            request.add_header("Content-Type", "application/json")

        try:
            with self._opener.open(request, timeout=self._timeout_seconds) as response:
                return (
                    response.status,
                    dict(response.headers.items()),
                    response.read().decode("utf-8", errors="replace"),
                )
        except urllib.error.HTTPError as error:
            body = error.read().decode("utf-8", errors="replace")
            return error.code, dict(error.headers.items()), body
        except (
            urllib.error.URLError,
            TimeoutError,
            ConnectionError,
            http.client.HTTPException,
        ) as error:
            reason = getattr(error, "reason", error)
            return 0, {}, self._redact(f"connection failed: {reason}")

    # REST: issue comments. Pull requests are issues for comments in the REST API.

    def list_issue_comments(self, repository: str, number: int) -> list[dict[str, Any]]:
        """Return every comment on an issue or pull request, following `Link: rel="next"` pages."""
        url: str | None = f"{self.api_url}/repos/{repository}/issues/{number}/comments?per_page=100"
        comments: list[dict[str, Any]] = []
        while url:
            page, headers = self.request("GET", url)
            if not isinstance(page, list):
                raise GitHubError(f"GitHub returned {type(page).__name__} instead of a comment list for {url}")
            comments.extend(page)
            match = _NEXT_LINK_PATTERN.search(headers.get("Link", ""))
            url = match.group(1) if match else None
        return comments

    def create_issue_comment(self, repository: str, number: int, body: str) -> dict[str, Any]:
        url = f"{self.api_url}/repos/{repository}/issues/{number}/comments"
        comment, _ = self.request("POST", url, {"body": body})
        return _comment_object(comment, url)

    def update_issue_comment(self, repository: str, comment_id: int, body: str) -> dict[str, Any]:
        url = f"{self.api_url}/repos/{repository}/issues/comments/{comment_id}"
        comment, _ = self.request("PATCH", url, {"body": body})
        return _comment_object(comment, url)

    def delete_issue_comment(self, repository: str, comment_id: int) -> None:
        self.request("DELETE", f"{self.api_url}/repos/{repository}/issues/comments/{comment_id}")

    # GraphQL.

    def graphql(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        """Run a GraphQL query; raise GitHubError when the response lists errors."""
        result, _ = self.request("POST", self.graphql_url, {"query": query, "variables": dict(variables)})
        if not isinstance(result, dict):
            raise GitHubError(f"GitHub GraphQL returned {type(result).__name__} instead of an object")
        if result.get("errors"):
            messages = "; ".join(str(error.get("message", error)) for error in result["errors"])
            raise GitHubError(self._redact(f"GitHub GraphQL request failed: {messages}"))
        data = result.get("data")
        return dict(data) if isinstance(data, dict) else {}

    def minimize_comment(self, node_id: str, classifier: str = "OUTDATED") -> None:
        """Hide a comment as outdated (or another `ReportedContentClassifiers` value)."""
        self.graphql(
            "mutation($id: ID!, $classifier: ReportedContentClassifiers!) {"
            " minimizeComment(input: {subjectId: $id, classifier: $classifier})"
            " { minimizedComment { isMinimized } } }",
            {"id": node_id, "classifier": classifier},
        )


def _comment_object(comment: Any, url: str) -> dict[str, Any]:
    """Return a created or edited comment, or raise GitHubError when it lacks its numeric id."""
    if not isinstance(comment, dict) or not isinstance(comment.get("id"), int):
        raise GitHubError(f"GitHub returned no comment id for {url}", fix="check GITHUB_API_URL")
    return comment


# Environment of a GitHub Actions job.


def read_event_payload(environ: Mapping[str, str]) -> dict[str, Any]:
    """Return the JSON payload at GITHUB_EVENT_PATH, or {} when it is unset or unreadable."""
    path = environ.get("GITHUB_EVENT_PATH")
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            payload = json.load(handle)
    except (OSError, ValueError) as error:
        logger.warning("cannot read the event payload %s: %s", path, error)
        return {}
    return payload if isinstance(payload, dict) else {}


def _pull_request_number(payload: Mapping[str, Any], environ: Mapping[str, str]) -> int | None:
    pull_request = payload.get("pull_request")
    if isinstance(pull_request, dict) and isinstance(pull_request.get("number"), int):
        return int(pull_request["number"])
    issue = payload.get("issue")
    if isinstance(issue, dict) and issue.get("pull_request") and isinstance(issue.get("number"), int):
        return int(issue["number"])
    match = _PULL_REF_PATTERN.match(environ.get("GITHUB_REF", ""))
    return int(match.group(1)) if match else None


def _is_fork(payload: Mapping[str, Any]) -> bool | None:
    pull_request = payload.get("pull_request")
    if not isinstance(pull_request, dict):
        return None
    head_repo = (pull_request.get("head") or {}).get("repo") or {}
    base_repo = (pull_request.get("base") or {}).get("repo") or {}
    if not head_repo.get("full_name") or not base_repo.get("full_name"):
        return None
    return bool(head_repo["full_name"] != base_repo["full_name"])


def resolve_target(
    environ: Mapping[str, str], *, repository: str | None = None, number: int | None = None
) -> PullRequestTarget:
    """Find the repository and pull-request number from options, then the Actions environment.

    The number comes from `--pr`, the event payload (pull_request and
    issue_comment events) or GITHUB_REF `refs/pull/N/merge`, in that order.
    """
    repository = repository or environ.get("GITHUB_REPOSITORY")
    if not repository:
        raise GitHubError("the repository is not known", fix="pass --repo OWNER/NAME or set GITHUB_REPOSITORY")
    if not _REPOSITORY_PATTERN.match(repository):
        raise GitHubError(f"invalid repository {repository!r}", fix="use the form OWNER/NAME")

    payload = read_event_payload(environ)
    if number is None:
        number = _pull_request_number(payload, environ)
    if number is None:
        raise GitHubError(
            "the pull-request number is not known",
            fix="pass --pr N, or run on a pull_request event",
        )
    if number <= 0:
        raise GitHubError(f"invalid pull-request number {number}", fix="pass a positive number")
    return PullRequestTarget(repository, number, _is_fork(payload))


def client_from_environment(
    environ: Mapping[str, str] | None = None,
    *,
    api_url: str | None = None,
    sleep: Callable[[float], None] | None = None,
) -> GitHubClient:
    """Build a client from GITHUB_TOKEN, GITHUB_API_URL and GITHUB_GRAPHQL_URL."""
    environ = os.environ if environ is None else environ
    token = environ.get("GITHUB_TOKEN", "").strip()
    if not token:
        raise GitHubError(
            "GITHUB_TOKEN is not set",
            fix="pass `env: GITHUB_TOKEN: ${{ secrets.GITHUB_TOKEN }}` to the step",
        )
    url = api_url or environ.get("GITHUB_API_URL") or DEFAULT_API_URL
    graphql_url = None if api_url else environ.get("GITHUB_GRAPHQL_URL")
    return GitHubClient(token, url, graphql_url=graphql_url, sleep=sleep)
