#!/usr/bin/env bash
# Project-local PostgreSQL cluster for the demo, the tests and the benchmark.
# Sourced by the other dev scripts. Data lives in .local/pg (git-ignored).
#
#   pg_start   install Debian's postgresql when missing, start the cluster
#              (create it on first use), create the role odoo/odoo
#   pg_stop    stop it
#
# Connection: 127.0.0.1:${PGPORT:-55432}, user odoo, password odoo.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCAL_DIR="$REPO_ROOT/.local"
PG_DIR="$LOCAL_DIR/pg"
export PGHOST=127.0.0.1 PGPORT=${PGPORT:-55432} PGUSER=odoo PGPASSWORD=odoo PGDATABASE=postgres

_pg_bin() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$bin" ] && echo "$bin"
}

_as_pg_owner() {
    # PostgreSQL refuses to run as root: use a system account then.
    if [ "$(id -u)" = 0 ]; then
        id -u queue_job_sh_pg >/dev/null 2>&1 ||
            useradd --system --no-create-home --shell /usr/sbin/nologin queue_job_sh_pg
        chown -R queue_job_sh_pg "$PG_DIR"
        runuser -u queue_job_sh_pg -- "$@"
    else
        "$@"
    fi
}

pg_start() {
    if [ -z "$(_pg_bin)" ] || ! command -v psql >/dev/null; then
        echo "== installing PostgreSQL (Debian package postgresql)"
        local sudo=""
        [ "$(id -u)" = 0 ] || sudo=sudo
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql postgresql-client >/dev/null
    fi
    local bin
    bin=$(_pg_bin)
    mkdir -p "$PG_DIR"
    chmod 755 "$LOCAL_DIR" "$PG_DIR"
    if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
        echo "== creating the PostgreSQL cluster in $PG_DIR/data"
        printf 'odoo\n' >"$PG_DIR/pwfile"
        _as_pg_owner "$bin/initdb" -D "$PG_DIR/data" -U odoo --pwfile="$PG_DIR/pwfile" \
            -A scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log"
        rm -f "$PG_DIR/pwfile"
    fi
    if ! _as_pg_owner "$bin/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1; then
        _as_pg_owner "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $PGPORT -c unix_socket_directories=$PG_DIR -c max_connections=300 -c fsync=off" \
            start >/dev/null
    fi
    psql -qAt -c "SELECT 1" >/dev/null
    echo "== PostgreSQL ready on $PGHOST:$PGPORT (user odoo)"
}

pg_stop() {
    local bin
    bin=$(_pg_bin) || return 0
    [ -f "$PG_DIR/data/PG_VERSION" ] || return 0
    _as_pg_owner "$bin/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
}
