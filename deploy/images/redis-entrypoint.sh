#!/bin/sh
# As the official image: `redis-server` with arguments but no configuration file listens on every address with
# protected mode off.
set -eu
if [ "${1:-}" = redis-server ]; then
    shift
    case "${1:-}" in
        *.conf) exec redis-server "$@" ;;
        *) exec redis-server --bind "* -::*" --protected-mode no "$@" ;;
    esac
fi
exec "$@"
