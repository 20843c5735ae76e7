#!/bin/sh
# The official image's first start, for what compose uses: an empty PGDATA is initialised with POSTGRES_USER as
# superuser (password POSTGRES_PASSWORD, required for connections over the network) and POSTGRES_DB created;
# then PostgreSQL runs in the foreground listening on every address.
set -eu
if [ "${1:-postgres}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"
    user="${POSTGRES_USER:-postgres}"
    pwfile=$(mktemp)
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    pg_ctl -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" -w start >/dev/null
    db="${POSTGRES_DB:-$user}"
    if [ "$db" != postgres ]; then
        psql -v ON_ERROR_STOP=1 -h /var/run/postgresql -U "$user" -d postgres -q \
            -c "CREATE DATABASE \"$db\""
    fi
    pg_ctl -m fast -w stop >/dev/null
    echo "postgres-entrypoint: initialised $PGDATA (user $user, database $db)"
fi
if [ "${1:-postgres}" = postgres ]; then
    shift || true
    exec postgres -c listen_addresses='*' -c unix_socket_directories=/var/run/postgresql "$@"
fi
exec "$@"
