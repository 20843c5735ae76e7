"""What the phone app does once the user approves (LOGIN_PROTOCOL.md §4 steps 4-8): scope data, crypto_box,
the attempt JSON, the Ed25519 combined-mode signature, and the object the provider relays to the page.

Each negative-test switch (§8.3) spoils exactly one of those steps, so a correct marketplace rejects the
attempt at one predictable check. Every "other" key below is derived from a fixed label, so a spoiled attempt
looks the same run after run and a failing marketplace test can be replayed.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from typing import Any

from nacl.public import Box, PrivateKey, PublicKey
from nacl.signing import SigningKey
from pydantic import BaseModel, ConfigDict

from .kyc import KycService, sign_sei
from .login_request import LoginRequest
from .users import PhoneUser, derived_seed

# Who a "SEI for another email/identifier" claims to be (``sei_other_name`` borrows only the identifier). Signed
# by the real KYC key, so verify-sei accepts it; only a marketplace that compares the payload with the decrypted
# address and the double name rejects it.
OTHER_EMAIL = "mallory@example.com"
OTHER_IDENTIFIER = "mallory.3bot"
# The emoji grid of the app; the index only has to be plausible, nobody checks it.
_IMAGE_COUNT = 266


class Switches(BaseModel):
    """Negative-test switches; the field names are also the form checkbox names and the admin JSON keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    wrong_user_key: bool = False
    tampered_state: bool = False
    wrong_app_id: bool = False
    data_null: bool = False
    wrong_box_key: bool = False
    sei_wrong_signer: bool = False
    sei_other_identity: bool = False
    sei_other_name: bool = False
    email_missing: bool = False

    @property
    def enabled(self) -> list[str]:
        return [name for name, on in self.model_dump().items() if on]


# Shown next to each checkbox on the login page, with the check a correct marketplace fails on.
SWITCH_LABELS: dict[str, str] = {
    "wrong_user_key": "Sign with a wrong user key (signature check fails)",
    "tampered_state": "Tamper with the signed state (state mismatch)",
    "wrong_app_id": "Put a wrong appId in the attempt (appId mismatch)",
    "data_null": "Send data = null, as after a wrong emoji (no data)",
    "wrong_box_key": "Encrypt to a different public key (decryption fails)",
    "sei_wrong_signer": "SEI signed by another key than KYC (verify-sei fails)",
    "sei_other_identity": "SEI for mallory@example.com / mallory.3bot (e-mail mismatch)",
    "sei_other_name": "SEI for the user's own e-mail but mallory.3bot (3Bot name mismatch)",
    "email_missing": "Leave the e-mail out of the scope data (no e-mail)",
}
assert set(SWITCH_LABELS) == set(Switches.model_fields)


@dataclass(frozen=True)
class SignedAttempt:
    """The signed attempt: ``attempt_json`` is the signed message, ``relayed`` what goes to the callback."""

    attempt_json: str
    relayed: dict[str, str]

    @property
    def relayed_json(self) -> str:
        return compact_json(self.relayed)


def compact_json(value: Any) -> str:
    """JSON.stringify's layout, which the app uses for everything it encrypts, signs and relays."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def scope_data(user: PhoneUser, request: LoginRequest, kyc: KycService, switches: Switches) -> dict[str, Any]:
    """Step 4: one entry per granted scope; only ``email`` carries data (``user`` adds nothing)."""
    data: dict[str, Any] = {}
    if request.scope.get("email") and not switches.email_missing:
        email, identifier = user.email, user.double_name
        if switches.sei_other_identity:
            email, identifier = OTHER_EMAIL, OTHER_IDENTIFIER
        if switches.sei_other_name:
            # The e-mail is the user's own: only a marketplace that also compares the 3Bot name rejects it.
            identifier = OTHER_IDENTIFIER
        signer = kyc.signing_key
        if switches.sei_wrong_signer:
            signer = SigningKey(derived_seed("emulator:not-the-kyc-key"))
        data["email"] = {"email": user.email, "sei": sign_sei(email, identifier, signer)}
    return data


def encrypt_scope_data(user: PhoneUser, recipient: bytes, plaintext: str, nonce: bytes | None = None) -> dict[str, str]:
    """Step 5: crypto_box_easy with the user's converted secret key; ciphertext without the nonce."""
    nonce = nonce if nonce is not None else secrets.token_bytes(Box.NONCE_SIZE)
    box = Box(user.signing_key.to_curve25519_private_key(), PublicKey(recipient))
    encrypted = box.encrypt(plaintext.encode(), nonce)
    return {"nonce": _b64(nonce), "ciphertext": _b64(encrypted.ciphertext)}


def _tamper(state: str) -> str:
    # Same length and alphabet, one character different: only a real comparison notices.
    return state[:-1] + ("X" if state[-1] != "X" else "Y")


def build_signed_attempt(
    user: PhoneUser,
    request: LoginRequest,
    kyc: KycService,
    switches: Switches | None = None,
    *,
    nonce: bytes | None = None,
    random_room: str | None = None,
    selected_image_id: int | None = None,
) -> SignedAttempt:
    """Steps 4-8 for one approval. ``nonce``, ``random_room`` and ``selected_image_id`` are random unless
    given, which is how the tests reproduce the §5.2 vector byte for byte."""
    switches = switches or Switches()
    data: dict[str, str] | None = None
    if not switches.data_null:
        recipient = request.public_key_bytes
        if switches.wrong_box_key:
            recipient = bytes(PrivateKey(derived_seed("emulator:other-box-key")).public_key)
        plaintext = compact_json(scope_data(user, request, kyc, switches))
        data = encrypt_scope_data(user, recipient, plaintext, nonce)
    attempt = {
        "signedState": _tamper(request.state) if switches.tampered_state else request.state,
        "data": data,
        "selectedImageId": selected_image_id if selected_image_id is not None else secrets.randbelow(_IMAGE_COUNT) + 1,
        "doubleName": user.double_name,
        "randomRoom": random_room if random_room is not None else secrets.token_hex(8),
        "appId": f"{request.appid}.attacker.invalid" if switches.wrong_app_id else request.appid,
    }
    attempt_json = compact_json(attempt)
    signer = user.signing_key
    if switches.wrong_user_key:
        signer = SigningKey(derived_seed(f"emulator:wrong-key:{user.double_name}"))
    signed = _b64(bytes(signer.sign(attempt_json.encode())))
    return SignedAttempt(attempt_json, {"signedAttempt": signed, "doubleName": user.double_name})
