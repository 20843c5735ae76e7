"""`init`'s checks (LOGIN_PROTOCOL §9.3): the request, the 3Bot's phonebook key, the password it encrypted.

Decrypting with the 3Bot's phonebook key proves the caller holds that identity's private key; nothing else
authenticates these server-to-server calls.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, StrictBool, StrictStr, ValidationError

from services.common.errors import ApiError, FieldError
from services.common.explorer import Explorer, ExplorerRejected
from services.common.identity import Identity, IdentityError

NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
HEX_KEY = re.compile(r"[0-9a-fA-F]{64}")  # an Ed25519 verify key
MAX_PASSWD = 512
NONCE = 24


def _bad(field: str | None, message: str, code: str = "invalid") -> ApiError:
    return ApiError(400, message, (FieldError(code, message, field),))


@dataclass(frozen=True)
class InitRequest:
    threebot_name: str
    username: str
    sealed: bytes = b""
    new: bool = False


class InitBody(BaseModel):
    """A 3Bot asks for its backup account (``new``: create it; otherwise check the password)."""

    threebot_name: StrictStr = Field(pattern=NAME.pattern, description="the 3Bot's phonebook name")
    passwd: StrictStr = Field(max_length=MAX_PASSWD, description="base64 of a nonce and a box sealed to our key")
    new: StrictBool


_REFUSED = {
    "threebot_name": "threebot_name must be 1-64 of a-z 0-9 _ . - starting with a letter or digit",
    "passwd": f"passwd must be base64 text of at most {MAX_PASSWD} characters",
    "new": "new must be true or false",
}


def parse_init(body: Any) -> InitRequest:
    """Validate the JSON body of `init` (:class:`InitBody`, the model of the OpenAPI document, then the decoding).

    Raises:
        ApiError: 400 naming the first bad field.
    """
    if not isinstance(body, dict):
        raise _bad(None, "send a JSON object with threebot_name, passwd and new")
    try:
        init = InitBody.model_validate(body)
    except ValidationError as exc:
        field = str(exc.errors(include_url=False)[0]["loc"][0])
        raise _bad(field, _REFUSED[field]) from None
    # NAME admits only names whose part before the first '.' is an account name (htpasswd.USERNAME): see
    # tests/unit/backup/test_init_request.py (and htpasswd.render refuses any other).
    username = init.threebot_name.partition(".")[0]
    try:
        sealed = base64.b64decode(init.passwd, validate=True)
    except (binascii.Error, ValueError):
        raise _bad("passwd", "passwd is not valid base64") from None
    if len(sealed) <= NONCE:
        raise _bad("passwd", "passwd is too short to hold a nonce and a box")
    return InitRequest(init.threebot_name, username, sealed, init.new)


def phonebook_key(explorer: Explorer, threebot_name: str) -> bytes:
    """The Ed25519 verify key of the one phonebook user called ``threebot_name``.

    Raises:
        ApiError: 404 when there is not exactly one such user (or its key is malformed).
        ExplorerUnavailable: the explorer did not answer (503 via the common handler).
    """
    try:
        users = explorer.get_json("/users", {"name": threebot_name})
    except ExplorerRejected:
        users = []
    matches = [u for u in users if isinstance(u, dict) and u.get("name") == threebot_name] if isinstance(
        users, list) else []  # fmt: skip
    if len(matches) != 1:
        message = "no such 3Bot in the phonebook"
        raise ApiError(404, message, (FieldError("not_found", message, "threebot_name"),))
    pubkey = matches[0].get("pubkey")
    if not isinstance(pubkey, str) or not HEX_KEY.fullmatch(pubkey):
        raise ApiError(404, "the 3Bot's phonebook key is malformed", (FieldError("not_found", "bad key"),))
    return bytes.fromhex(pubkey)


def open_password(marketplace: Identity, threebot_key: bytes, sealed: bytes) -> bytes:
    """The password the 3Bot encrypted to us: 8 to 72 bytes of printable UTF-8 (bcrypt's limit).

    Raises:
        ApiError: 400 when it does not decrypt with the 3Bot's key, or is not an acceptable password.
    """
    try:
        password = marketplace.box_decrypt(threebot_key, sealed)
    except IdentityError:
        raise _bad("passwd", "passwd does not decrypt with the 3Bot's phonebook key", "decrypt_failed") from None
    try:
        text = password.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad("passwd", "the password must be UTF-8 text") from None
    if not 8 <= len(password) <= 72 or not text.isprintable():
        raise _bad("passwd", "the password must be 8 to 72 bytes of printable characters")
    return password
