"""SQL of the backup service: the account records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.common.db import Database


@dataclass(frozen=True)
class Account:
    threebot_name: str
    username: str
    server1_done: bool
    server2_done: bool
    created_at: datetime
    updated_at: datetime
    last_verified: datetime | None

    def done(self, index: int) -> bool:
        return self.server1_done if index == 1 else self.server2_done

    @property
    def complete(self) -> bool:
        return self.server1_done and self.server2_done


_COLUMNS = "threebot_name, username, server1_done, server2_done, created_at, updated_at, last_verified"


def get(db: Database, threebot_name: str) -> Account | None:
    with db.transaction() as cur:
        cur.execute(f"SELECT {_COLUMNS} FROM backup.accounts WHERE threebot_name = %s", (threebot_name,))
        row = cur.fetchone()
    return Account(**row) if row else None


def owner_of(db: Database, username: str) -> str | None:
    """The 3Bot name whose account is ``username`` on the servers, if any."""
    with db.transaction() as cur:
        cur.execute("SELECT threebot_name FROM backup.accounts WHERE username = %s", (username,))
        row = cur.fetchone()
    return str(row["threebot_name"]) if row else None


def record(db: Database, threebot_name: str, username: str, server1_done: bool, server2_done: bool) -> None:
    """Create or update the record after `init new=true`: which servers hold the current entry."""
    with db.transaction() as cur:
        cur.execute(
            "INSERT INTO backup.accounts (threebot_name, username, server1_done, server2_done)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (threebot_name) DO UPDATE SET"
            " server1_done = EXCLUDED.server1_done, server2_done = EXCLUDED.server2_done, updated_at = now()",
            (threebot_name, username, server1_done, server2_done),
        )


def mark_done(db: Database, account: Account, index: int) -> bool:
    """Record that server ``index`` now holds the entry, unless `init` changed the account since ``account`` was
    read (then the entry copied may be stale: the next pass copies the current one). True when recorded."""
    column = "server1_done" if index == 1 else "server2_done"
    with db.transaction() as cur:
        cur.execute(
            f"UPDATE backup.accounts SET {column} = true WHERE threebot_name = %s AND updated_at = %s",
            (account.threebot_name, account.updated_at),
        )
        return bool(cur.rowcount)


def mark_verified(db: Database, threebot_name: str) -> None:
    with db.transaction() as cur:
        cur.execute("UPDATE backup.accounts SET last_verified = now() WHERE threebot_name = %s", (threebot_name,))


def incomplete(db: Database, limit: int = 500) -> list[Account]:
    with db.transaction() as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM backup.accounts WHERE NOT (server1_done AND server2_done)"
            " ORDER BY updated_at LIMIT %s",
            (limit,),
        )
        return [Account(**row) for row in cur.fetchall()]
