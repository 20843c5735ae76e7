"""The `.htpasswd` file of a backup server: bcrypt entries computed here, never by a command on the server.

Every line is `username:$2y$...` (Apache's bcrypt form, which rclone's basic auth reads). Usernames are the 3Bot
name before its first `.`, checked against :data:`USERNAME`, so a line can never be split or forged by a name;
the hash is bcrypt's own alphabet. Parsing is strict: a file that does not parse back is never rewritten.
"""

from __future__ import annotations

import re

import bcrypt

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_HASH = re.compile(r"^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$")
ROUNDS = 10


class HtpasswdError(Exception):
    """The file does not parse as bcrypt entries (it is then left untouched)."""


def hash_password(password: bytes) -> str:
    """A fresh `$2y$` bcrypt hash (bcrypt writes `$2b$`; the algorithm is the same, Apache names it `$2y$`)."""
    hashed = bcrypt.hashpw(password, bcrypt.gensalt(ROUNDS)).decode()
    return "$2y$" + hashed[4:]


def check_password(password: bytes, hashed: str) -> bool:
    if not _HASH.fullmatch(hashed):
        return False
    return bcrypt.checkpw(password, ("$2b$" + hashed[4:]).encode())


def parse(text: str) -> dict[str, str]:
    """username → hash, in file order.

    Raises:
        HtpasswdError: a line that is not `username:bcrypt-hash`, or a name twice.
    """
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        user, sep, hashed = line.partition(":")
        if not sep or not USERNAME.fullmatch(user) or not _HASH.fullmatch(hashed) or user in entries:
            raise HtpasswdError(f"line {number} is not a bcrypt entry")
        entries[user] = hashed
    return entries


def render(entries: dict[str, str]) -> str:
    for user, hashed in entries.items():
        if not USERNAME.fullmatch(user) or not _HASH.fullmatch(hashed):
            raise HtpasswdError("refusing to write a malformed entry")
    return "".join(f"{user}:{hashed}\n" for user, hashed in entries.items())
