"""Host and Origin checks, as plain ASGI middleware in front of the app.

* **Host**: a page on ``evil.example`` can make its name resolve to 127.0.0.1 (DNS
  rebinding) and then talk to a local server as if it were same-origin; the only tell is the
  ``Host`` header. Requests whose Host is not one of the allowed names get 400.
* **Origin**: a page elsewhere can still POST a form to the server (no CORS preflight for
  forms). Requests that change state (anything but GET, HEAD, OPTIONS) whose ``Origin`` is
  not this server's own, nor an allowed origin, get 403.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def host_name(value: str) -> str:
    """The name part of a Host header or netloc, lower-case, without port or brackets."""
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:8080
        return value[1:value.find("]")] if "]" in value else value
    if value.count(":") == 1:
        return value.rsplit(":", 1)[0]
    return value


def default_allowed_hosts(bound: str) -> list[str] | None:
    """The Host names to accept for a server bound to ``bound``: that address and the
    loopback names; None (any) for a wildcard bind, whose names cannot be known here."""
    if bound in ("0.0.0.0", "::", ""):
        return None
    return sorted({host_name(bound), "127.0.0.1", "localhost", "::1"})


async def _refuse(send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class HostOriginGuard:
    """Refuse requests for other host names and cross-origin state changes.

    ``allowed_hosts``: Host names to serve (None or ``"*"`` among them: any).
    ``allowed_origins``: origins (``scheme://host[:port]``) whose pages may POST here, or
    ``"*"`` for any; the server's own origin always may.
    """

    def __init__(self, app, allowed_hosts: list[str] | None = None,
                 allowed_origins: list[str] = ()):
        self.app = app
        self.hosts = None if allowed_hosts is None or "*" in allowed_hosts else \
            {host_name(h) for h in allowed_hosts}
        self.origins = {o.rstrip("/").lower() for o in allowed_origins}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if self.hosts is not None and host_name(host) not in self.hosts:
            return await _refuse(send, 400, f"Host '{host}' is not served here; use "
                                 f"{', '.join(sorted(self.hosts))} (serve --allowed-hosts "
                                 "adds names)")
        if scope["method"] not in SAFE_METHODS and not self._origin_ok(headers, host):
            origin = headers.get("origin") or headers.get("sec-fetch-site")
            return await _refuse(send, 403, f"cross-origin {scope['method']} from '{origin}' "
                                 "refused; call the API from its own page or a non-browser "
                                 "client, or start serve with --allow-origin")
        return await self.app(scope, receive, send)

    def _origin_ok(self, headers: dict[str, str], host: str) -> bool:
        if "*" in self.origins:
            return True
        origin = headers.get("origin")
        if origin is None:
            # No Origin: a non-browser client, unless the browser says the page was elsewhere.
            return headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")
        origin = origin.rstrip("/").lower()
        if origin in self.origins:
            return True
        parts = urlsplit(origin)
        return parts.scheme in ("http", "https") and parts.netloc == host.strip().lower()
