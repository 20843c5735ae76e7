"""The chatflow's SQL: wizard sessions (the only module with SQL in this service)."""

from __future__ import annotations

import uuid
from typing import Any

from services.common.db import json_param

Row = dict[str, Any]


def create(cur: Any, owner: str, solution_type: str, step: int, ttl_seconds: int) -> Row:
    cur.execute(
        """
        INSERT INTO chatflow.sessions (id, owner, solution_type, step, expires_at)
        VALUES (%(id)s, %(owner)s, %(type)s, %(step)s, now() + make_interval(secs => %(ttl)s))
        RETURNING *
        """,
        {"id": uuid.uuid4().hex, "owner": owner, "type": solution_type, "step": step, "ttl": ttl_seconds},
    )
    return dict(cur.fetchone())


def get(cur: Any, session_id: str, owner: str, *, lock: bool = False) -> Row | None:
    """The session if ``owner`` owns it and it has not expired (another user's session reads as none)."""
    cur.execute(
        "SELECT * FROM chatflow.sessions WHERE id = %(id)s AND owner = %(owner)s AND status <> 'abandoned' "
        "AND expires_at > now()" + (" FOR UPDATE" if lock else ""),
        {"id": session_id, "owner": owner},
    )
    row = cur.fetchone()
    return dict(row) if row else None


def lock_open_count(cur: Any, owner: str) -> Row:
    """``{"n", "first_expiry"}`` of the owner's unfinished sessions, under a per-owner lock held until the
    transaction ends: two starts at once cannot both pass the cap."""
    cur.execute("SELECT pg_advisory_xact_lock(hashtext('chatflow.open:' || %(owner)s))", {"owner": owner})
    cur.execute(
        "SELECT count(*) AS n, min(expires_at) AS first_expiry FROM chatflow.sessions "
        "WHERE owner = %(owner)s AND status = 'open' AND expires_at > now()",
        {"owner": owner},
    )
    return dict(cur.fetchone())


def open_sessions(cur: Any, owner: str) -> list[Row]:
    cur.execute(
        "SELECT * FROM chatflow.sessions WHERE owner = %(owner)s AND status = 'open' AND expires_at > now() "
        "ORDER BY updated_at DESC LIMIT 50",
        {"owner": owner},
    )
    return [dict(r) for r in cur.fetchall()]


def save(cur: Any, session_id: str, *, step: int, answers: dict[str, Any], secret_answers: bytes | None,
         history: list[int], status: str, ttl_seconds: int, spec: dict[str, Any] | None = None,
         solution_id: str | None = None) -> None:  # fmt: skip
    """Persist the session after an answer (every answer: a restart of any process loses nothing)."""
    cur.execute(
        """
        UPDATE chatflow.sessions
        SET step = %(step)s, answers = %(answers)s, secret_answers = %(secrets)s, history = %(history)s,
            status = %(status)s, spec = COALESCE(%(spec)s, spec), solution_id = COALESCE(%(solution)s, solution_id),
            updated_at = now(), expires_at = now() + make_interval(secs => %(ttl)s)
        WHERE id = %(id)s
        """,
        {"id": session_id, "step": step, "answers": json_param(answers), "secrets": secret_answers,
         "history": json_param(history), "status": status, "ttl": ttl_seconds,
         "spec": json_param(spec) if spec is not None else None, "solution": solution_id},
    )  # fmt: skip


def delete(cur: Any, session_id: str, owner: str) -> bool:
    cur.execute("DELETE FROM chatflow.sessions WHERE id = %(id)s AND owner = %(owner)s", {"id": session_id,
                "owner": owner})  # fmt: skip
    return bool(cur.rowcount)


def delete_expired(cur: Any, limit: int = 1000) -> int:
    """Delete sessions past their expiry (abandoned wizards), oldest first."""
    cur.execute(
        """
        DELETE FROM chatflow.sessions WHERE id IN (
            SELECT id FROM chatflow.sessions WHERE expires_at < now() ORDER BY expires_at LIMIT %(limit)s
            FOR UPDATE SKIP LOCKED)
        """,
        {"limit": limit},
    )
    return int(cur.rowcount)
