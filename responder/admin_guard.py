"""Who may use the admin API, from where, and from which page.

A product under test is told to trust the lab, so its admin must not be
anyone's: the guard runs before every ``/~admin`` request.

- **Host** (DNS rebinding): the ``Host`` header must name this lab — a
  loopback name or address, or a name the lab was told it serves. A page on
  ``evil.example`` whose name resolves to 127.0.0.1 sends ``Host:
  evil.example`` and is refused.
- **Client**: without an admin token, loopback clients only (``::1``,
  ``127.0.0.0/8`` and ``::ffff:127.0.0.1`` alike); with one, anyone may read
  and every change needs it: ``Authorization: Bearer <token>``, or the
  session cookie a login on the page sets (HttpOnly, SameSite=Strict, so the
  token never sits in a URL).
- **CSRF**: a change whose ``Origin`` (or, without one, ``Referer``) is
  another origin is refused; a form (any body that is not JSON) must carry the
  page's CSRF token, which must equal its cookie (double submit: every worker
  can check it, no server-side session). A JSON body or a Bearer header cannot
  be sent cross-origin without a CORS preflight, which this server never
  grants.
- **Framing**: every admin answer says ``X-Frame-Options: DENY`` and
  ``Content-Security-Policy: frame-ancestors 'none'`` (clickjacking).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass

from flask import Request, Response, abort

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "MIN_TOKEN_CHARS",
    "SESSION_COOKIE",
    "AdminGuard",
    "check_admin_token",
    "is_loopback",
]

#: An admin token shorter than this is no secret (16 URL-safe characters ≈ 96 bits).
MIN_TOKEN_CHARS = 16
SESSION_COOKIE = "ocsp-lab-admin"
CSRF_COOKIE = "ocsp-lab-csrf"
CSRF_FIELD = "csrf"
_CHANGING = frozenset({"POST", "PUT", "DELETE", "PATCH"})
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def check_admin_token(token: str | None) -> str | None:
    """The token, if it can be a secret; ValueError naming what was expected otherwise."""
    if token is None:
        return None
    if len(token) < MIN_TOKEN_CHARS or len(set(token)) < 8:
        raise ValueError(
            f"admin token: expected a secret of at least {MIN_TOKEN_CHARS} characters "
            "(an empty or short token would open the admin API to anyone); make one with "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(24))'"
        )
    if any(ord(c) < 0x21 or ord(c) > 0x7E for c in token):
        raise ValueError("admin token: expected printable ASCII without spaces")
    return token


def is_loopback(address: str | None) -> bool:
    """127.0.0.0/8, ::1, and IPv4-mapped loopback (``::ffff:127.0.0.1``)."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def _hostname(host: str) -> str:
    """``Host`` header value → its lower-case name or address, without port or brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def _origin(url: str) -> tuple[str, str] | None:
    parts = urllib.parse.urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return parts.scheme.lower(), parts.netloc.lower()


@dataclass(frozen=True)
class AdminGuard:
    """The admin API's access rules, as data: the token and the names this lab answers to."""

    token: str | None = None
    hosts: frozenset[str] = LOOPBACK_HOSTS

    @classmethod
    def serving(cls, token: str | None, hosts: Iterable[str] = ()) -> AdminGuard:
        names = {_hostname(h) for h in hosts if h} - {"0.0.0.0", "::", ""}
        return cls(token=check_admin_token(token), hosts=LOOPBACK_HOSTS | frozenset(names))

    # ---- the checks ---------------------------------------------------------------------

    def check(self, request: Request) -> None:
        """Abort the request (403/401 with a JSON message) unless it may go on."""
        host = _hostname(request.host or "")
        if host not in self.hosts and not is_loopback(host):
            abort(
                403,
                f"Host: {request.host!r} is not a name this lab serves "
                f"(expected one of {', '.join(sorted(self.hosts))}); a page of another "
                "site that resolves to this address (DNS rebinding) is refused",
            )
        if self.token is None and not is_loopback(request.remote_addr):
            abort(403, "the admin API listens to loopback only (no admin token configured)")
        if request.method not in _CHANGING:
            return
        self._same_origin(request)
        bearer = request.headers.get("Authorization", "")
        has_bearer = bearer.startswith("Bearer ")
        logging_in = request.endpoint == "admin.login"  # the token is what it checks
        if (
            self.token is not None
            and not logging_in
            and not (
                (has_bearer and self._token_matches(bearer.removeprefix("Bearer ").strip()))
                or self.session_valid(request)
            )
        ):
            abort(401, "this call changes the responder: it needs the admin token")
        # Only a POST with a form-like body can come cross-site without a CORS preflight
        # (Fetch "simple requests"): PUT, DELETE and JSON bodies cannot.
        if request.method == "POST" and not request.is_json and not has_bearer:
            self._csrf(request)

    def _same_origin(self, request: Request) -> None:
        own = (request.scheme.lower(), (request.host or "").lower())
        origin = request.headers.get("Origin")
        if origin is not None:
            if origin == "null" or _origin(origin) != own:
                abort(403, f"Origin: {origin!r} is not this lab's page; changes come from it only")
            return
        referer = request.headers.get("Referer")
        if referer is not None and _origin(referer) != own:
            abort(403, f"Referer: {referer!r} is not this lab's page; changes come from it only")

    def _csrf(self, request: Request) -> None:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        given = request.form.get(CSRF_FIELD, "")
        if not cookie or not hmac.compare_digest(cookie.encode(), given.encode()):
            abort(403, f"{CSRF_FIELD}: expected the page's CSRF token (reload the status page)")

    def _token_matches(self, given: str) -> bool:
        assert self.token is not None
        return hmac.compare_digest(given.encode(), self.token.encode())

    # ---- sessions and the page ----------------------------------------------------------

    def session_value(self) -> str:
        """The session cookie's value: the token's HMAC, never the token itself."""
        assert self.token is not None
        return hmac.new(
            self.token.encode(), b"ocsp-lab admin session/1", hashlib.sha256
        ).hexdigest()

    def session_valid(self, request: Request) -> bool:
        if self.token is None:
            return False
        cookie = request.cookies.get(SESSION_COOKIE, "")
        return hmac.compare_digest(cookie.encode(), self.session_value().encode())

    def login(self, request: Request, response: Response, token: str) -> bool:
        """Set the session cookie if ``token`` is right (the page's login form)."""
        if self.token is None or not self._token_matches(token):
            return False
        response.set_cookie(
            SESSION_COOKIE, self.session_value(), httponly=True, samesite="Strict",
            secure=request.scheme == "https", path="/~admin",
        )  # fmt: skip
        return True

    @staticmethod
    def csrf_token(request: Request) -> str:
        """The page's CSRF token: its cookie's value, or a new one."""
        return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)

    @staticmethod
    def finish(request: Request, response: Response, csrf: str | None = None) -> Response:
        """Headers every admin answer carries; the CSRF cookie when a page handed one out."""
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-store"
        if csrf is not None and request.cookies.get(CSRF_COOKIE) != csrf:
            response.set_cookie(
                CSRF_COOKIE, csrf, httponly=True, samesite="Strict",
                secure=request.scheme == "https", path="/~admin",
            )  # fmt: skip
        return response
