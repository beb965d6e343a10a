#!/usr/bin/env bash
# Project-local PostgreSQL clusters for the demo, the tests and the benchmark.
# Sourced by the other dev scripts. Data lives in .local/ (git-ignored).
#
#   pg_start     install Debian's postgresql when missing, start the cluster
#                (create it on first use) with the superuser role odoo;
#                returns non-zero, with one line saying why, when it does not
#                start
#   pg_durable   use the benchmark's cluster instead (before pg_start):
#                production durability (fsync, synchronous_commit and
#                full_page_writes on), in .local/pg-durable, port 55433
#   pg_stop      stop it
#
# The test cluster runs with fsync=off: fast, and a crash of this machine
# may lose it, which is fine for tests.
# Connection: 127.0.0.1:${PGPORT:-55432} only, user odoo, with a password made
# for the cluster when it is created and kept in .local/pg.password (mode 600;
# .local/pg-durable.password for the benchmark's); pg_start exports it as
# PGPASSWORD. A cluster made before with the password odoo gets a new one at
# its next start.

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCAL_DIR="$REPO_ROOT/.local"
PG_DIR="$LOCAL_DIR/pg"
PG_SETTINGS="-c fsync=off"
PG_OWNER=queue_job_sh_pg
export PGHOST=127.0.0.1 PGPORT=${PGPORT:-55432} PGUSER=odoo PGDATABASE=postgres
PGPASSWORD=$(cat "$PG_DIR.password" 2>/dev/null || echo odoo)
export PGPASSWORD

pg_durable() {
    PG_DIR="$LOCAL_DIR/pg-durable"
    # pg_stat_statements: the benchmark's per-statement accounting (docs/bench.md)
    PG_SETTINGS="-c fsync=on -c synchronous_commit=on -c full_page_writes=on -c shared_preload_libraries=pg_stat_statements"
    PGPORT=${QUEUE_JOB_SH_DURABLE_PGPORT:-55433}
}

_pg_bin() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$bin" ] && echo "$bin"
}

_as_pg_owner() {
    # PostgreSQL refuses to run as root: use a system account then.
    if [ "$(id -u)" = 0 ]; then
        runuser -u "$PG_OWNER" -- "$@"
    else
        "$@"
    fi
}

_pg_home() {
    # The folder of the cluster: $PG_DIR, or, when running as root in a
    # clone that the system account cannot reach (a parent folder closed to
    # others, like one made by mktemp -d or /root), a folder of that
    # account's own, made by mktemp -d under /var/tmp (a name nobody can
    # guess, created atomically), which $PG_DIR links to: the link is what
    # remembers it. Sets PG_HOME, the real path: the account cannot follow
    # the link.
    mkdir -p "$LOCAL_DIR"
    PG_HOME=$PG_DIR
    if [ "$(id -u)" != 0 ]; then
        mkdir -p "$PG_DIR"
        return
    fi
    id -u "$PG_OWNER" >/dev/null 2>&1 ||
        useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_OWNER"
    chmod 755 "$LOCAL_DIR"
    if [ -L "$PG_DIR" ] || ! runuser -u "$PG_OWNER" -- test -x "$LOCAL_DIR"; then
        local home=""
        if [ -L "$PG_DIR" ]; then
            home=$(readlink "$PG_DIR")
            # still the folder made for this clone: a folder (not a link) of
            # the account, closed to others; else (the machine cleaned
            # /var/tmp, something else took the name) a new cluster
            if [ -L "$home" ] || [ ! -d "$home" ] ||
                [ "$(stat -c %U:%a "$home")" != "$PG_OWNER:700" ]; then
                echo "== $home is not this clone's cluster folder any more: a new cluster"
                home=""
            fi
        fi
        if [ -z "$home" ]; then
            # a new .local: never reuse what an earlier clone left
            rm -rf "$PG_DIR"
            home=$(mktemp -d /var/tmp/queue_job_sh-pg.XXXXXXXXXX) || return 1
            chown -h "$PG_OWNER" "$home"
            ln -s "$home" "$PG_DIR"
        fi
        PG_HOME=$home
    else
        mkdir -p "$PG_DIR"
        chown -h "$PG_OWNER" "$PG_DIR"
    fi
}

_pg_new_password() {
    head -c 18 /dev/urandom | base64 | tr '+/' '-_'
}

_pg_save_password() {
    # _pg_save_password PASSWORD: kept for the next runs, readable by its
    # owner only, and exported
    (umask 077 && printf '%s\n' "$1" >"$PG_DIR.password")
    export PGPASSWORD=$1
}

pg_start() {
    if [ -z "$(_pg_bin)" ] || ! command -v psql >/dev/null; then
        echo "== installing PostgreSQL (Debian package postgresql)"
        local sudo=""
        [ "$(id -u)" = 0 ] || sudo=sudo
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql postgresql-client >/dev/null
    fi
    local bin data
    bin=$(_pg_bin)
    _pg_home
    data="$PG_HOME/data"
    if [ ! -f "$data/PG_VERSION" ]; then
        echo "== creating the PostgreSQL cluster in $data"
        local password
        password=$(_pg_new_password)
        # The password file is in the cluster's folder, which its owner can
        # reach (see _pg_home), and written by that owner: when running as
        # root, root writes nothing in a folder of the system account.
        printf '%s\n' "$password" |
            _as_pg_owner sh -c 'umask 077 && cat >"$1"' sh "$PG_HOME/pwfile"
        if ! _as_pg_owner "$bin/initdb" -D "$data" -U odoo --pwfile="$PG_HOME/pwfile" \
            -A scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$LOCAL_DIR/initdb.log" 2>&1; then
            rm -f "$PG_HOME/pwfile"
            echo "PostgreSQL: initdb failed in $data: $(tail -n 1 "$LOCAL_DIR/initdb.log")" >&2
            return 1
        fi
        rm -f "$PG_HOME/pwfile"
        _pg_save_password "$password"
    fi
    if ! _as_pg_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
        if ! _as_pg_owner "$bin/pg_ctl" -D "$data" -l "$PG_HOME/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $PGPORT -c unix_socket_directories=$PG_HOME -c max_connections=300 $PG_SETTINGS" \
            start >/dev/null 2>&1; then
            echo "PostgreSQL did not start on port $PGPORT: $(grep -E 'FATAL|ERROR' "$PG_HOME/server.log" | tail -n 1)" >&2
            return 1
        fi
    fi
    if [ -s "$PG_DIR.password" ]; then
        export PGPASSWORD
        PGPASSWORD=$(cat "$PG_DIR.password")
    elif PGPASSWORD=odoo psql -qAt -c "SELECT 1" >/dev/null 2>&1; then
        # made before clusters had passwords of their own
        local password
        password=$(_pg_new_password)
        PGPASSWORD=odoo psql -q -v password="$password" <<<"ALTER ROLE odoo PASSWORD :'password';" &&
            _pg_save_password "$password"
    fi
    if ! psql -qAt -c "SELECT 1" >/dev/null 2>"$LOCAL_DIR/psql.err"; then
        echo "PostgreSQL on $PGHOST:$PGPORT does not answer: $(head -n 1 "$LOCAL_DIR/psql.err")" >&2
        return 1
    fi
    echo "== PostgreSQL ready on $PGHOST:$PGPORT (user odoo; $PG_SETTINGS)"
}

pg_stop() {
    local bin
    bin=$(_pg_bin) || return 0
    [ -f "$PG_DIR/data/PG_VERSION" ] || return 0
    _as_pg_owner "$bin/pg_ctl" -D "$(readlink -f "$PG_DIR")/data" -m fast -w stop >/dev/null 2>&1 || true
}
