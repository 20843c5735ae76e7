"""The auth schema: users and terms acceptance. The only module of the auth service that runs SQL."""

from __future__ import annotations

from services.common.db import Database


def upsert_user(db: Database, username: str, email: str, public_key: str) -> int:
    """Create the user at first login, or refresh e-mail, key and last login; returns the user id."""
    with db.transaction() as cur:
        cur.execute(
            """
            INSERT INTO auth.users (username, email, public_key)
            VALUES (%(username)s, %(email)s, %(public_key)s)
            ON CONFLICT (username) DO UPDATE
               SET email = EXCLUDED.email, public_key = EXCLUDED.public_key, last_login = now()
            RETURNING id
            """,
            {"username": username, "email": email, "public_key": public_key},
        )
        row = cur.fetchone()
        assert row is not None
        return int(row["id"])


def accepted_terms(db: Database, user_id: int, grid_network: str, version: str) -> bool:
    with db.transaction() as cur:
        cur.execute(
            """
            SELECT 1 FROM auth.terms_acceptance
             WHERE user_id = %(user_id)s AND grid_network = %(network)s AND version = %(version)s
            """,
            {"user_id": user_id, "network": grid_network, "version": version},
        )
        return cur.fetchone() is not None


def accept_terms(db: Database, user_id: int, grid_network: str, version: str) -> None:
    """Record acceptance (idempotent: accepting twice keeps the first time)."""
    with db.transaction() as cur:
        cur.execute(
            """
            INSERT INTO auth.terms_acceptance (user_id, grid_network, version)
            VALUES (%(user_id)s, %(network)s, %(version)s)
            ON CONFLICT DO NOTHING
            """,
            {"user_id": user_id, "network": grid_network, "version": version},
        )
