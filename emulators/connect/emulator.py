"""The emulator's start-up configuration and its run-time state, shared by the page, API and admin views."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import structlog
from flask import current_app

from .attempts import AttemptStore, StoredAttempt
from .faults import FaultBoard
from .kyc import KycService
from .login_request import CallbackScheme, LoginRequest, callback_url
from .phone import Switches, build_signed_attempt
from .users import DEFAULT_KYC_SEED, PhoneUser, default_users

log = structlog.get_logger(__name__)
EXTENSION_KEY = "connect_emulator"


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything fixed at start-up. ``fault_overrides`` is a partial faults update (see faults.py) applied
    on top of what a previous run saved in ``state_dir``."""

    users: tuple[PhoneUser, ...] = field(default_factory=default_users)
    kyc_seed: bytes = DEFAULT_KYC_SEED
    callback_scheme: CallbackScheme = "auto"
    state_dir: Path | None = None
    fault_overrides: Mapping[str, Any] = field(default_factory=dict)


class Emulator:
    """Users, KYC key, fault switches and remembered attempts of one running emulator."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.users = {user.double_name: user for user in config.users}
        self.kyc = KycService(config.kyc_seed)
        state_dir = config.state_dir
        if state_dir is not None:
            state_dir.mkdir(parents=True, exist_ok=True)
        self.faults = FaultBoard(state_dir / "config.json" if state_dir else None, config.fault_overrides)
        self.attempts = AttemptStore(state_dir / "attempts.json" if state_dir else None)

    def user(self, double_name: str) -> PhoneUser | None:
        """Names are compared lower-case (LOGIN_PROTOCOL.md §1.1)."""
        return self.users.get(double_name.lower())

    def public_key_b64(self, user: PhoneUser) -> str:
        return base64.b64encode(user.verify_key).decode()

    def issue(self, user: PhoneUser, request: LoginRequest, switches: Switches) -> StoredAttempt:
        """Sign an attempt for ``user``, build the callback URL and remember it for a replay."""
        signed = build_signed_attempt(user, request, self.kyc, switches)
        url = callback_url(request, self.config.callback_scheme, "signedAttempt", signed.relayed_json)
        log.info("attempt_issued", user=user.double_name, appid=request.appid, switches=switches.enabled)
        return self.attempts.remember(
            request.state, user.double_name, url, signed.relayed, json.loads(signed.attempt_json), switches.enabled
        )

    def cancel_url(self, request: LoginRequest) -> str:
        return callback_url(request, self.config.callback_scheme, "error", "CancelledByUser")


def current_emulator() -> Emulator:
    return cast(Emulator, current_app.extensions[EXTENSION_KEY])


def injected_delay(seconds: float) -> None:
    """Sleep in the request thread: what a slow upstream looks like to the marketplace's HTTP client."""
    if seconds > 0:
        time.sleep(seconds)
