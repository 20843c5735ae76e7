"""The provider's browser pages: the login page and the Approve / Cancel / Replay form posts.

The real provider waits for the phone; here the page *is* the phone: the tester picks a user, optionally ticks
negative-test switches, and Approve runs the app's steps server-side before redirecting to the marketplace.
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request
from flask.typing import ResponseReturnValue

from .emulator import current_emulator
from .errors import EmulatorError, FieldError, bad_request
from .login_request import STATE_PATTERN, callback_base, parse_login_request
from .phone import SWITCH_LABELS, Switches
from .users import PhoneUser

bp = Blueprint("pages", __name__)


def _chosen_user(name: str | None) -> PhoneUser:
    if not name:
        raise bad_request([FieldError("user", "missing", "choose a test user")])
    user = current_emulator().user(name)
    if user is None:
        raise bad_request([FieldError("user", "unknown_user", f"there is no test user {name[:64]!r}")])
    return user


@bp.get("/")
def login_page() -> str:
    login = parse_login_request(request.args)
    emulator = current_emulator()
    return render_template(
        "login.html",
        login=login,
        users=list(emulator.users.values()),
        switches=SWITCH_LABELS,
        can_replay=emulator.attempts.last_for(login.state) is not None,
        callback_base=callback_base(login, emulator.config.callback_scheme),
    )


@bp.post("/approve")
def approve() -> ResponseReturnValue:
    # The hidden fields come back from the browser, so they are validated again, exactly like the query.
    login = parse_login_request(request.form)
    user = _chosen_user(request.form.get("user"))
    # An HTML checkbox is sent only when ticked, whatever its value.
    switches = Switches(**{name: name in request.form for name in SWITCH_LABELS})
    stored = current_emulator().issue(user, login, switches)
    return redirect(stored.callback_url, 302)


@bp.post("/cancel")
def cancel() -> ResponseReturnValue:
    login = parse_login_request(request.form)
    return redirect(current_emulator().cancel_url(login), 302)


@bp.post("/replay")
def replay() -> ResponseReturnValue:
    """Re-send the last attempt made for ``state`` (or the latest of all when no state is given).

    A form post is answered with the same 302 as the original approval; a JSON post with the stored attempt.
    """
    state: object
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise bad_request([FieldError("", "not_object", "the body must be a JSON object")])
        state = body.get("state")
    else:
        state = request.form.get("state")
    emulator = current_emulator()
    if state is None or state == "":
        stored = emulator.attempts.latest()
    elif not isinstance(state, str) or not STATE_PATTERN.fullmatch(state):
        raise bad_request([FieldError("state", "not_alphanumeric", "state must be 1-256 characters of [A-Za-z0-9]")])
    else:
        stored = emulator.attempts.last_for(state)
    if stored is None:
        raise EmulatorError(404, "No attempt to replay: approve a login for this state first")
    if request.is_json:
        return stored.as_json(), 200
    return redirect(stored.callback_url, 302)
