"""Filtered, paginated SELECTs shared by the emulator's stores (GRID_API §2.3: ordered by id, with a total)."""

from __future__ import annotations

import sqlite3
from typing import Any


def where(conditions: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A WHERE clause from the conditions whose value is not None, and its named parameters.

    Only fixed condition strings written in the stores are formatted into SQL; values are always bound.
    """
    clauses: list[str] = []
    params: dict[str, Any] = {}
    for clause, value in conditions.items():
        if value is None:
            continue
        clauses.append(clause)
        params[clause.rsplit(":", 1)[1]] = value
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


def select_page(
    conn: sqlite3.Connection, table: str, conditions: dict[str, Any], limit: int, offset: int
) -> tuple[list[sqlite3.Row], int]:
    """One page of ``table`` (a constant of the caller) matching ``conditions``, and the total number of matches."""
    clause, params = where(conditions)
    total = conn.execute(f"SELECT count(*) FROM {table} {clause}", params).fetchone()[0]  # noqa: S608
    rows = conn.execute(
        f"SELECT * FROM {table} {clause} ORDER BY id LIMIT :limit OFFSET :offset",  # noqa: S608
        {**params, "limit": limit, "offset": offset},
    ).fetchall()
    return rows, int(total)
