"""HTTP of the auth service: login page and flow, callback, logout, me, terms, and /auth/verify for Caddy."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

import structlog
from flask import Blueprint, Response, g, jsonify, make_response, redirect, render_template, request
from werkzeug.wrappers import Response as WerkzeugResponse

from services.auth import metrics, store
from services.auth.api import PAGE, TO_PROVIDER, VERIFIED, CallbackQuery, LoginQuery, Me, SignedOut, Terms
from services.auth.provider import LoginRejected, UpstreamFailure
from services.auth.service import provider_redirect, safe_next, verify_attempt
from services.auth.sessions import ATTEMPT_TTL, Session, SessionStore, terms_mark
from services.auth.verify import AssertionCache, accepted_terms
from services.common import assertion
from services.common.errors import ApiError, FieldError, error_response
from services.common.identity import Identity
from services.common.openapi import Redirect, operation
from services.common.web import deps

log = structlog.get_logger(__name__)
bp = Blueprint("auth", __name__, template_folder="templates")


class AuthContext:
    """Per-app objects of the auth service (keys and stores), built once in create_app."""

    def __init__(
        self, identity: Identity, signer: Identity, sessions: SessionStore, assertions: AssertionCache
    ) -> None:
        self.identity = identity
        self.signer = signer
        self.sessions = sessions
        self.assertions = assertions


def ctx() -> AuthContext:
    from flask import current_app

    return current_app.extensions["auth"]  # type: ignore[no-any-return]


def _cookie_names() -> tuple[str, str]:
    # `__Host-` cookies must be Secure: only outside dev, where the site is served over https.
    return ("mp_session", "mp_login") if deps().settings.is_dev else ("__Host-mp_session", "__Host-mp_login")


def _set_cookie(response: WerkzeugResponse, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=not deps().settings.is_dev, httponly=True, samesite="Lax"
    )


def _current_session() -> Session | None:
    session = ctx().sessions.get(request.cookies.get(_cookie_names()[0]))
    g.auth_session = session  # its cookie is renewed on the way out (_renew_cookie)
    return session


@bp.after_request
def _renew_cookie(response: WerkzeugResponse) -> WerkzeugResponse:
    """A session used by this request gets its cookie's ``Max-Age`` renewed: the server slides the idle expiry, so
    the browser's must slide too, up to the absolute limit (``SessionStore.lifetime``)."""
    session: Session | None = g.get("auth_session")
    name = _cookie_names()[0]
    already = any(h.startswith(f"{name}=") for h in response.headers.getlist("Set-Cookie"))
    if session is not None and not already:
        _set_cookie(response, name, session.sid, ctx().sessions.lifetime(session))
    return response


def _require_session() -> Session:
    session = _current_session()
    if session is None:
        raise ApiError(401, "sign in first", (FieldError("not_authenticated", "sign in first"),))
    return session


def _wants_html() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html"


def _failure(status: int, title: str, message: str, next_path: str = "/") -> Response:
    """A login failure: an HTML page for a browser, the standard JSON error for anything else."""
    if _wants_html():
        response = make_response(render_template("message.html", title=title, message=message, next=next_path))
        response.status_code = status
        return response
    return error_response(status, message, (FieldError("login_failed", message),))


def _client() -> str:
    return request.remote_addr or "unknown"


def _rate_limited(bucket: str) -> Response | None:
    wait = ctx().sessions.over_limit(_client(), bucket)
    if wait is None:
        return None
    log.warning("login rate limit hit", bucket=bucket, client=_client())
    message = f"too many sign-in attempts from your address; try again in {wait} s"
    response = error_response(429, message, (FieldError("rate_limited", message),), {"Retry-After": str(wait)})
    return response


@bp.get("/auth/login")
@operation(
    "The sign-in page; with provider=3bot, off to 3Bot Connect",
    {200: PAGE, 302: TO_PROVIDER},
    query=LoginQuery,
    public=True,
)
def login() -> Any:
    next_path = safe_next(request.args.get("next"))
    if request.args.get("provider") != "3bot":
        return render_template("login.html", next=next_path)
    if (limited := _rate_limited("login")) is not None:
        return limited
    _, login_cookie = _cookie_names()
    browser_id = request.cookies.get(login_cookie) or secrets.token_urlsafe(24)
    state = ctx().sessions.start_attempt(browser_id, next_path)
    metrics.attempt()
    response = redirect(provider_redirect(deps().settings, ctx().identity, state), 302)
    _set_cookie(response, login_cookie, browser_id, ATTEMPT_TTL)
    return response


@bp.get("/auth/3bot_callback")
@operation("3Bot Connect's answer: a session and back to `next`", {302: TO_PROVIDER}, query=CallbackQuery, public=True)
def callback() -> Any:
    if (limited := _rate_limited("callback")) is not None:
        metrics.login("rate_limited")
        return limited
    session_cookie, login_cookie = _cookie_names()
    # Single use, whatever the outcome: the attempt is gone from here on.
    attempt = ctx().sessions.consume_attempt(request.cookies.get(login_cookie))
    if request.args.get("error"):
        log.info("login cancelled by the user")
        metrics.login("cancelled")
        return _failure(400, "Sign-in cancelled", "You cancelled the sign-in in the 3Bot Connect app.")
    if attempt is None:
        log.info("login rejected", reason="no pending attempt (missing, reused or expired)")
        metrics.login("expired_attempt")
        return _failure(400, "Sign-in failed", "This sign-in has expired or was already used. Please sign in again.")
    next_path = safe_next(attempt["next"])
    raw = request.args.get("signedAttempt", "")
    try:
        who = verify_attempt(deps().settings, ctx().identity, raw, attempt["state"])
    except LoginRejected as exc:
        log.info("login rejected", reason=str(exc))
        metrics.login(metrics.rejected(str(exc)))
        return _failure(400, "Sign-in failed", f"Sign-in failed: {exc}.", next_path)
    except UpstreamFailure as exc:
        log.warning("login upstream failure", status=exc.status, reason=exc.message)
        metrics.login("upstream_failure")
        return _failure(exc.status, "Sign-in unavailable", exc.message, next_path)

    user_id = store.upsert_user(deps().db, who.username, who.email, who.public_key)
    # A fresh session id at every login; the browser's previous session (if any) ends here.
    ctx().sessions.destroy(request.cookies.get(session_cookie))
    session = ctx().sessions.create(user_id, who.username, who.email)
    log.info("login succeeded", user=who.username)
    metrics.login("ok")
    response = redirect(next_path, 302)
    _set_cookie(response, session_cookie, session.sid, ctx().sessions.lifetime(session))
    response.delete_cookie(login_cookie, path="/", secure=not deps().settings.is_dev, httponly=True, samesite="Lax")
    assertion.drop_pass(deps().settings, response)  # a pass of the browser's previous session must not survive
    return response


@bp.post("/auth/logout")
@operation("Sign out (a form post is sent to /)", {200: SignedOut, 303: Redirect("to /")}, public=True)
def logout() -> Any:
    session_cookie, _ = _cookie_names()
    sid = request.cookies.get(session_cookie)
    ctx().sessions.destroy(sid)
    if sid:
        ctx().assertions.forget(sid)
    response = redirect("/", 303) if request.mimetype != "application/json" else jsonify(message="signed out")
    response.delete_cookie(session_cookie, path="/", secure=not deps().settings.is_dev, httponly=True, samesite="Lax")
    assertion.drop_pass(deps().settings, response)
    return response


@bp.get("/auth/me")
@operation("The signed-in user", {200: Me})
def me() -> Any:
    session = _require_session()
    return jsonify(username=session.username, email=session.email)


def _terms_accepted(session: Session) -> bool:
    settings = deps().settings
    return store.accepted_terms(deps().db, session.user_id, settings.grid_network, settings.terms_version)


@bp.get("/auth/terms")
@operation("The current terms and whether the caller accepted them", {200: Terms})
def terms() -> Any:
    session = _require_session()
    settings = deps().settings
    return jsonify(
        version=settings.terms_version, grid_network=settings.grid_network, accepted=_terms_accepted(session)
    )


@bp.post("/auth/terms/accept")
@operation("Accept the current terms", {200: Terms})
def accept_terms() -> Any:
    session = _require_session()
    settings = deps().settings
    store.accept_terms(deps().db, session.user_id, settings.grid_network, settings.terms_version)
    # This session's record says so at once (/auth/verify reads only the record); the user's other sessions
    # read the acceptance from PostgreSQL within TERMS_RECHECK.
    ctx().sessions.remember_terms(session, terms_mark(settings.grid_network, settings.terms_version))
    log.info("terms accepted", user=session.username, version=settings.terms_version)
    response = jsonify(version=settings.terms_version, grid_network=settings.grid_network, accepted=True)
    assertion.drop_pass(settings, response)  # the next call asks /auth/verify, whose token says "accepted"
    return response


def _is_page_navigation() -> bool:
    method = request.headers.get("X-Forwarded-Method", request.method)
    uri = request.headers.get("X-Forwarded-Uri", "/")
    return method == "GET" and not uri.startswith("/api/") and _wants_html()


@bp.get("/auth/verify")
@operation(
    "Caddy forward_auth: who is calling (401, or a redirect to sign in for pages)",
    {200: VERIFIED, 302: Redirect("to the sign-in page")},
)
def verify() -> Any:
    """Caddy forward_auth: 200 + the user headers, or 401 JSON (APIs) / 302 to the login page (pages)."""
    session = _current_session()
    if session is None:
        if _is_page_navigation():
            next_path = safe_next(request.headers.get("X-Forwarded-Uri", "/"))
            return redirect(f"/auth/login?next={quote(next_path, safe='/')}", 302)
        return error_response(401, "sign in first", (FieldError("not_authenticated", "sign in first"),))
    accepted = accepted_terms(deps().db, ctx().sessions, deps().settings, session)
    user = assertion.User(session.username, session.email, accepted)
    token = ctx().assertions.token(session.sid, user)
    response = make_response("", 200)
    response.headers[assertion.USER_HEADER] = session.username
    response.headers[assertion.EMAIL_HEADER] = session.email
    response.headers[assertion.ASSERTION_HEADER] = token
    return response
