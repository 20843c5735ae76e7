"""Local emulator of the 3Bot Connect login provider, its phone app and the KYC service (LOGIN_PROTOCOL.md §8).

Point the marketplace's ``THREEBOT_LOGIN_URL`` and ``OPENKYC_URL`` at it.

Run::

    python -m emulators.connect --host 127.0.0.1 --port 8202 [--users-file F] [--callback-scheme auto|http|https]
                                [--state-dir D] [--users-missing a.3bot,b.3bot] [--users-delay S] [--users-down]
                                [--kyc-unverified] [--kyc-delay S] [--kyc-down]

Every flag can also come from ``CONNECT_EMULATOR_<FLAG>`` (``CONNECT_EMULATOR_PORT``,
``CONNECT_EMULATOR_USERS_DOWN=1``, ...); a flag wins over its variable. A bad value prints one line on stderr and
exits with status 2. ``--callback-scheme auto`` (default) redirects to ``http://`` when the app id's host is
localhost, 127.0.0.1 or [::1] and to ``https://`` otherwise; ``http``/``https`` force one scheme. With
``--state-dir`` the fault switches (``config.json``) and the remembered attempts (``attempts.json``) survive a
restart; fault flags given at start-up override the saved switches. Served by an embedded gunicorn (1 worker,
8 threads); tests use :func:`create_app` with an :class:`EmulatorConfig`.

Test users (keys are deterministic, so restarts never change them): ``alice.3bot`` / alice@example.com with seed
bytes 0x20..0x3f (the §5.2 vector), ``bob.3bot`` / bob@example.com and ``carol.3bot`` / carol@example.com with
seed SHA-256(double name). KYC seed: bytes 0x40..0x5f. ``--users-file`` replaces them: a JSON list of
``{"double_name", "email", "seed"}`` (seed = 64 hex characters or a 24-word BIP-39 mnemonic whose entropy is
the seed), or ``{"users": [...], "kyc_seed": "..."}``.

Endpoints:

* ``GET /?state&appid&scope&redirecturl&publickey`` - login page: the app id, its scopes, a radio list of users,
  Approve / Cancel, the negative-test checkboxes and, once an attempt exists for the state, a replay button.
  Bad parameters give a 400 page (JSON if the client prefers it) listing each bad field.
* ``POST /approve`` (form: the five parameters, ``user``, ticked switches) - the phone app's steps 4-9: 302 to
  ``<scheme>://<appid><redirecturl>?signedAttempt=<encodeURIComponent({"signedAttempt","doubleName"})>``.
* ``POST /cancel`` - 302 to ``<scheme>://<appid><redirecturl>?error=CancelledByUser``.
* ``POST /replay`` (form or JSON ``{"state"}``; no state = latest attempt) - the same 302 again (JSON: the stored
  attempt); 404 if nothing was approved for that state.
* ``GET /api/users/<name>`` - 200 ``{"doublename", "publicKey", "device_id": ""}``; 404 ``{"message": "User not
  found"}``. ``POST /api/signedAttempt`` ``{"signedAttempt", "doubleName"}`` - 200 ``Ok`` or 400.
* ``POST /verification/verify-sei`` ``{"signedEmailIdentifier"}`` - 200 with the signed payload text, or 500
  ``Invalid or corrupted signature`` (the real service's answer, the one intended 500). A body that is not a JSON
  object with that string field gets a 400 JSON error. ``GET /verification/public-key`` - KYC verify key hex.
* ``GET /_emulator/healthz`` - ``{"status": "ok"}``. ``GET /_emulator/config``; ``POST /_emulator/config`` with a
  partial ``{"users": {"missing": [names], "delay": s, "down": bool}, "kyc": {"unverified": bool, "delay": s,
  "down": bool}}`` (strictly typed, delay 0-300 s; 400 and no change on bad input). ``POST /_emulator/reset`` -
  all faults off, attempts forgotten. ``GET /_emulator/users`` - users, public keys, KYC key.
  ``POST /_emulator/attempt`` ``{"user", "state", "appid", "publickey", "redirecturl"?, "scope"?, <switches>}``
  - approves without a browser and answers ``{"state", "callback_url", "signedAttempt", "attempt", "switches"}``.
* Anything else: JSON 404 / 405; errors never carry a traceback.

Negative-test switches (checkbox names on the page, boolean keys in ``/_emulator/attempt``): ``wrong_user_key``
(signed by another key), ``tampered_state`` (one character of ``signedState`` changed), ``wrong_app_id``
(``<appid>.attacker.invalid``), ``data_null``, ``wrong_box_key`` (encrypted to another Curve25519 key),
``sei_wrong_signer`` (SEI signed by a non-KYC key), ``sei_other_identity`` (valid KYC SEI for
mallory@example.com / mallory.3bot), ``sei_other_name`` (valid KYC SEI for the user's own e-mail but the 3Bot name
mallory.3bot: only the name check refuses it), ``email_missing`` (scope data without ``email``). Faults: users 404
for given names, users slow/down (503), KYC "unverified" (500), KYC slow/down (503).
"""

from .app import create_app
from .emulator import EmulatorConfig

__all__ = ["EmulatorConfig", "create_app"]
