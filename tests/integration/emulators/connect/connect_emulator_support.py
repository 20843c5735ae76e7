"""Helpers for the connect emulator tests: emulator processes, a browser that follows the page's forms, and a
marketplace that verifies callbacks as LOGIN_PROTOCOL.md §5 says (the behaviour the emulator must satisfy).

A plain module next to conftest.py (which puts this directory on sys.path, since the tests run with
``--import-mode=importlib``); its name is unique so it cannot clash with another test directory's helpers.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests
from nacl.exceptions import BadSignatureError, CryptoError
from nacl.public import Box
from nacl.signing import SigningKey, VerifyKey

REPO_ROOT = Path(__file__).resolve().parents[4]
STATE = "Zq3LmN8pR2tV6wXy1B4cD7fG9hJ0kM5n"
SCOPE = '{"user": true, "email": true}'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ----------------------------------------------------------------------------------------------- processes


@dataclass
class EmulatorProcess:
    """``python -m emulators.connect`` on a free port; output goes to a file so a full pipe never blocks it."""

    proc: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


class StartEmulator(Protocol):
    """The ``start_emulator`` fixture: start one more emulator process with these flags (and env)."""

    def __call__(self, *args: str, env: Mapping[str, str] | None = None) -> EmulatorProcess: ...


def run_emulator_cli(args: list[str], env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI to completion (for start-up failures)."""
    return subprocess.run(
        [sys.executable, "-m", "emulators.connect", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def start_emulator_process(log_dir: Path, args: list[str], env: Mapping[str, str] | None = None) -> EmulatorProcess:
    port = free_port()
    log_path = log_dir / f"emulator-{port}.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "emulators.connect", "--host", "127.0.0.1", "--port", str(port), *args],
            cwd=REPO_ROOT,
            env={**os.environ, **(env or {})},
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    emulator = EmulatorProcess(proc, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"emulator exited with {proc.returncode}:\n{emulator.log()}")
        try:
            if requests.get(f"{emulator.base_url}/_emulator/healthz", timeout=1).status_code == 200:
                return emulator
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    emulator.stop()
    raise RuntimeError(f"emulator did not become healthy:\n{emulator.log()}")


# ----------------------------------------------------------------------------------------------- browser


@dataclass
class Form:
    action: str
    fields: dict[str, str] = field(default_factory=dict)  # hidden and text inputs
    radios: dict[str, list[str]] = field(default_factory=dict)
    checked_radio: dict[str, str] = field(default_factory=dict)
    checkboxes: list[str] = field(default_factory=list)
    buttons: dict[str, str] = field(default_factory=dict)  # button text -> formaction (or form action)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.labels: dict[str, str] = {}
        self._button: dict[str, str] | None = None
        self._label_for: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(action=attr.get("action", "")))
        elif tag == "input" and self.forms:
            form, kind, name = self.forms[-1], attr.get("type", "text"), attr.get("name", "")
            if kind == "radio":
                form.radios.setdefault(name, []).append(attr.get("value", ""))
                if "checked" in attr:
                    form.checked_radio[name] = attr.get("value", "")
            elif kind == "checkbox":
                form.checkboxes.append(name)
            else:
                form.fields[name] = attr.get("value", "")
        elif tag == "button" and self.forms:
            self._button = {"formaction": attr.get("formaction", self.forms[-1].action), "text": ""}
        elif tag == "label":
            self._label_for = attr.get("for", "")
            self.labels[self._label_for] = ""

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button["text"] += data
        if self._label_for is not None:
            self.labels[self._label_for] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None and self.forms:
            self.forms[-1].buttons[self._button["text"].strip()] = self._button["formaction"]
            self._button = None
        elif tag == "label":
            self._label_for = None


@dataclass
class Page:
    url: str
    status: int
    html: str
    forms: list[Form]
    labels: dict[str, str]


class Browser:
    """Fetches pages and submits their forms the way a browser would (no JavaScript: the page has none)."""

    def __init__(self) -> None:
        self.session = requests.Session()

    def get(self, url: str) -> Page:
        response = self.session.get(url, timeout=10, headers={"Accept": "text/html"})
        parser = _FormParser()
        parser.feed(response.text)
        return Page(url, response.status_code, response.text, parser.forms, parser.labels)

    def press(
        self, page: Page, button: str, user: str | None = None, switches: tuple[str, ...] = ()
    ) -> requests.Response:
        """Tick ``switches``, pick ``user`` and press the button labelled ``button``; return the raw answer."""
        form = next(f for f in page.forms if button in f.buttons)
        data = dict(form.fields)
        data.update(form.checked_radio)
        if user is not None:
            assert user in form.radios["user"], f"{user} is not offered on the page"
            data["user"] = user
        for switch in switches:
            assert switch in form.checkboxes, f"no checkbox {switch}"
            data[switch] = "on"
        target = urljoin(page.url, form.buttons[button])
        return self.session.post(target, data=data, allow_redirects=False, timeout=10)


# ----------------------------------------------------------------------------------------------- marketplace


class Rejected(Exception):
    """The marketplace refused the login; ``step`` names the §5 check that failed."""

    def __init__(self, step: str, detail: str = "") -> None:
        super().__init__(f"{step}: {detail}")
        self.step = step


@dataclass
class Marketplace:
    """Plays the marketplace: its identity seed is the §5.2 one (bytes 0x00..0x1f) unless another is given."""

    provider_url: str
    appid: str = "localhost:8080"
    seed: bytes = bytes(range(32))
    used_states: set[str] = field(default_factory=set)

    @property
    def sign_key(self) -> SigningKey:
        return SigningKey(self.seed)

    @property
    def publickey(self) -> str:
        return base64.b64encode(bytes(self.sign_key.verify_key.to_curve25519_public_key())).decode()

    def login_query(self, state: str = STATE, **overrides: str) -> dict[str, str]:
        query = {
            "state": state,
            "appid": self.appid,
            "scope": SCOPE,
            "redirecturl": "/auth/3bot_callback",
            "publickey": self.publickey,
        }
        query.update(overrides)
        return query

    def login_url(self, state: str = STATE, **overrides: str) -> str:
        return f"{self.provider_url}/?{urlencode(self.login_query(state, **overrides))}"

    def callback_object(self, location: str) -> dict[str, Any]:
        parts = urlsplit(location)
        assert (parts.scheme, parts.netloc, parts.path) == ("http", self.appid, "/auth/3bot_callback"), location
        values = parse_qs(parts.query)
        if "error" in values:
            raise Rejected("cancelled", values["error"][0])
        outer = json.loads(values["signedAttempt"][0])
        assert isinstance(outer, dict)
        return outer

    def outcome(self, location: str, state: str = STATE) -> str:
        """``"accepted"`` or the name of the failed step."""
        try:
            self.verify(location, state)
        except Rejected as exc:
            return exc.step
        return "accepted"

    def verify(self, location: str, state: str = STATE) -> str:
        """Steps 2-9 of §5 on a callback URL; returns the verified e-mail or raises Rejected(step)."""
        outer = self.callback_object(location)
        double_name = str(outer.get("doubleName", "")).lower()
        if not double_name.endswith(".3bot") or not isinstance(outer.get("signedAttempt"), str):
            raise Rejected("outer")
        if state in self.used_states:
            raise Rejected("state_reused")
        self.used_states.add(state)
        response = requests.get(f"{self.provider_url}/api/users/{double_name}", timeout=(5, 10))
        if response.status_code != 200:
            raise Rejected("user_lookup", str(response.status_code))
        user_key = base64.b64decode(response.json()["publicKey"])
        try:
            message = VerifyKey(user_key).verify(base64.b64decode(outer["signedAttempt"]))
        except (BadSignatureError, ValueError, binascii.Error) as exc:
            raise Rejected("signature", str(exc)) from None
        attempt = json.loads(message)
        if str(attempt.get("doubleName", "")).lower() != double_name:
            raise Rejected("double_name")
        if not hmac.compare_digest(str(attempt.get("signedState", "")).encode(), state.encode()):
            raise Rejected("state")
        if attempt.get("appId") != self.appid:
            raise Rejected("app_id")
        data = attempt.get("data")
        if not isinstance(data, dict) or not {"nonce", "ciphertext"} <= data.keys():
            raise Rejected("data")
        box = Box(self.sign_key.to_curve25519_private_key(), VerifyKey(user_key).to_curve25519_public_key())
        try:
            plain = box.decrypt(base64.b64decode(data["ciphertext"]), base64.b64decode(data["nonce"]))
        except CryptoError as exc:
            raise Rejected("decrypt", str(exc)) from None
        email_obj = json.loads(plain).get("email")
        if not isinstance(email_obj, dict) or not isinstance(email_obj.get("email"), str):
            raise Rejected("email")
        email = str(email_obj["email"])
        kyc = requests.post(
            f"{self.provider_url}/verification/verify-sei",
            json={"signedEmailIdentifier": email_obj.get("sei")},
            timeout=(5, 10),
        )
        if kyc.status_code != 200:
            raise Rejected("sei", f"{kyc.status_code} {kyc.text}")
        payload = kyc.json()
        if payload.get("email", "").lower() != email.lower() or payload.get("identifier") != double_name:
            raise Rejected("sei_identity", json.dumps(payload))
        return email
