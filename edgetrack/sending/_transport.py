"""HTTP: the only module that imports ``requests``.

``HttpSender`` sends one request and returns a ``Response`` for every status and every
failure (``status=0`` with the error); it never retries and never follows redirects, and it
reads at most ``max_body`` bytes of a response. It owns its ``requests.Session`` and closes it.

Proxies: the ``proxies`` it is given (as requests and segment-analytics-python take them), or
else ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` and ``NO_PROXY`` from the environment, as
requests reads them by default. Nothing else comes from the environment: no ``.netrc``
credentials, no ``REQUESTS_CA_BUNDLE`` (TLS trust is the ``verify`` given).
"""

from __future__ import annotations

import time
from typing import Any

import requests

from edgetrack.models import Request, Response

__all__ = ["HttpSender"]


class HttpSender:
    """Keep-alive HTTP client for one scheduler thread."""

    def __init__(
        self, *, verify: bool | str = True, max_body: int = 64 * 1024, proxies: dict[str, str] | None = None
    ) -> None:
        self._session = requests.Session()
        self._session.trust_env = False  # no .netrc credentials or CA bundle picked up by surprise
        self._verify = verify
        self._max_body = max_body
        self._proxies = proxies
        self._environ: dict[str, dict[str, str]] = {}  # proxies from the environment, per host

    def _proxies_for(self, url: str) -> dict[str, str]:
        if self._proxies is not None:
            return self._proxies
        origin = url.split("/", 3)[2] if "://" in url else url
        found = self._environ.get(origin)
        if found is None:
            found = self._environ[origin] = requests.utils.get_environ_proxies(url)
        return found

    def send(self, request: Request, *, timeout: tuple[float, float]) -> Response:
        started = time.monotonic()
        try:
            raw = self._session.request(
                request.method,
                request.url,
                data=request.body,
                headers=dict(request.headers),
                timeout=timeout,
                allow_redirects=False,
                stream=True,
                verify=self._verify,
                proxies=self._proxies_for(request.url),
            )
        except requests.RequestException as exc:
            error = _describe(exc, request.url)
            return Response(0, error=error, elapsed=time.monotonic() - started, at=time.time())
        try:
            body = raw.raw.read(self._max_body, decode_content=True) or b""
        except Exception as exc:  # reset mid-body, read timeout: the status still counts
            body = f"<body unreadable: {type(exc).__name__}>".encode()
        finally:
            raw.close()
        return Response(
            raw.status_code,
            dict(raw.headers),
            body,
            elapsed=time.monotonic() - started,
            at=time.time(),
        )

    def close(self) -> None:
        self._session.close()


def _describe(exc: Any, url: str) -> str:
    """The error without the request's path: some vendors (Batch.com) put their key in it."""
    kind = type(exc).__name__
    text = str(exc)
    path = url.split("://", 1)[-1].partition("/")[2]
    if path:
        text = text.replace("/" + path, "/<path>")
    if len(text) > 300:
        text = text[:300] + "..."
    return f"{kind}: {text}"
