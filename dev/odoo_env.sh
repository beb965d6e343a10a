#!/usr/bin/env bash
# Project-local Odoo environments, one virtualenv per Odoo series. Sourced by
# dev/test, dev/demo and bench/run.
#
#   odoo_env SERIES    build (or reuse) .local/venv/SERIES and export
#                      ODOO_PY (its python), ODOO_SERIES, ODOO_SRC (the
#                      Odoo tree it runs) and ODOO_ADDONS_PATH (Odoo's
#                      addons folders, comma-separated)
#
# Where Odoo's source comes from, per series (first that is set):
#   --odoo-source SERIES=PATH               (option of the three commands)
#   QUEUE_JOB_SH_ODOO_SOURCE_<SERIES>=PATH  (18.0 -> QUEUE_JOB_SH_ODOO_SOURCE_18_0)
# PATH is an Odoo community tree or a .tar.xz / .tar.gz of one. Without
# either, Odoo's official source: a shallow clone of the series branch.
#
# The environment holds Odoo (editable, from .local/src/odoo-SERIES), its
# requirements.txt, OCA queue_job of the series from PyPI (series.cfg), and
# the test requirements. It is built from the system python3, without its
# site-packages, and reused while nothing that went into it changed (the
# source, the build steps below, requirements-test.txt, the python3).

ODOO_OFFICIAL_REPO=https://github.com/odoo/odoo.git
_ENV_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

progress() { printf '== %s\n' "$*"; }

_series_cfg() {
    # _series_cfg [SERIES KEY]: series.cfg's sections, or one value
    python3 - "$_ENV_REPO/series.cfg" "$@" <<'PY'
import configparser, sys
cfg = configparser.ConfigParser()
cfg.read(sys.argv[1])
if len(sys.argv) == 2:
    print(" ".join(cfg.sections()))
elif cfg.has_option(sys.argv[2], sys.argv[3]):
    print(cfg[sys.argv[2]][sys.argv[3]])
PY
}
SUPPORTED_SERIES=$(_series_cfg)

# What differs between the series, for building and running them.
_series_settings() {
    QUEUE_JOB_REQUIREMENT=$(_series_cfg "$1" queue_job)
    case "$1" in
    18.0)
        # queue_job 18's wheel needs nothing Odoo does not bring
        QUEUE_JOB_INSTALL_ARGS=()
        # 19.0 reads --without-demo as a boolean
        ODOO_WITHOUT_DEMO=--without-demo=all
        ;;
    19.0)
        # with its dependencies it would upgrade Odoo's pinned lxml
        QUEUE_JOB_INSTALL_ARGS=(--no-deps openupgradelib)
        ODOO_WITHOUT_DEMO=--without-demo
        ;;
    *)
        echo "Odoo series $1 is not supported (supported: $SUPPORTED_SERIES)" >&2
        return 1
        ;;
    esac
}

_source_setting() {
    # the PATH named for series $1 by --odoo-source or the environment
    local var="QUEUE_JOB_SH_ODOO_SOURCE_${1//./_}"
    printf '%s' "${!var:-}"
}

# --odoo-source SERIES=PATH, as parsed by the commands
set_odoo_source() {
    local series=${1%%=*} path=${1#*=}
    if [ "$series" = "$1" ] || [ -z "$path" ]; then
        echo "--odoo-source takes SERIES=PATH (for instance 18.0=~/src/odoo-18.0.tar.xz)" >&2
        return 1
    fi
    _series_settings "$series" || return 1
    [ -e "$path" ] || { echo "--odoo-source $1: no such file or directory" >&2; return 1; }
    export "QUEUE_JOB_SH_ODOO_SOURCE_${series//./_}=$(cd "$(dirname "$path")" && pwd)/$(basename "$path")"
}

_debian_build_deps() {
    # headers that Odoo's requirements build against (psycopg2, python-ldap)
    local missing=() pkg
    for pkg in libpq-dev libldap2-dev libsasl2-dev; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    python3 -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' ||
        missing+=(python3-dev)
    [ ${#missing[@]} = 0 ] && return 0
    progress "installing Debian build headers: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

_source_key() {
    # what identifies the Odoo source of series $1 (a change rebuilds)
    local path
    path=$(_source_setting "$1")
    if [ -z "$path" ]; then
        echo "official $ODOO_OFFICIAL_REPO $1"
    elif [ -f "$path" ]; then
        echo "archive $(sha256sum "$path" | cut -d' ' -f1)"
    else
        echo "tree $path $(git -C "$path" rev-parse HEAD 2>/dev/null) $(sha256sum "$path/odoo/release.py" | cut -d' ' -f1)"
    fi
}

_fetch_source() {
    # lay the Odoo tree of series $1 out in $2
    local series=$1 dest=$2 path
    path=$(_source_setting "$series")
    # into a new folder: the tree in place stays until the new one is whole
    rm -rf "$dest.new"
    mkdir -p "$dest.new"
    if [ -z "$path" ]; then
        progress "Odoo $series: no source named (--odoo-source $series=PATH or QUEUE_JOB_SH_ODOO_SOURCE_${series//./_}):" \
            "taking Odoo's official source, a shallow clone of branch $series of $ODOO_OFFICIAL_REPO"
        git clone -q --depth 1 --branch "$series" "$ODOO_OFFICIAL_REPO" "$dest.new" ||
            { rm -rf "$dest.new"; echo "Odoo $series: the clone failed; name a source with --odoo-source" >&2; return 1; }
    elif [ -f "$path" ]; then
        progress "Odoo $series: unpacking $path"
        tar -xf "$path" -C "$dest.new" --strip-components=1 || { rm -rf "$dest.new"; return 1; }
    else
        progress "Odoo $series: copying the tree $path"
        cp -a "$path/." "$dest.new/" || { rm -rf "$dest.new"; return 1; }
    fi
    [ -f "$dest.new/odoo/release.py" ] || {
        echo "Odoo $series: $path holds no Odoo tree (no odoo/release.py)" >&2
        return 1
    }
    chmod -R u+w "$dest.new"
    rm -rf "$dest"
    mv "$dest.new" "$dest"
}

_pip() {
    # every install keeps setuptools < 70: gevent's plugin loader needs
    # pkg_resources, and zope.interface would pull a setuptools without it
    # (pip's warnings about package folders configured but absent are noise)
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@" 'setuptools<70' \
        2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

_build_env() {
    local series=$1 venv=$2 src=$3
    progress "Odoo $series: new virtualenv $venv (from $(python3 --version), no system site-packages)"
    rm -rf "$venv"
    python3 -m venv "$venv" || return 1
    # Odoo's pinned requirements predate setuptools 70 and setuptools_scm 8;
    # they are built against these (cbor2 builds wrong in an isolated build)
    progress "Odoo $series: Odoo's requirements.txt (a few minutes the first time)"
    _pip 'setuptools_scm<8' wheel || return 1
    _pip --no-build-isolation -r "$src/requirements.txt" || return 1
    # newer ones break gevent.monkey.patch_all(), which prefork servers run
    _pip 'zope.interface>=6,<7' 'zope.event<5.1' || return 1
    progress "Odoo $series: Odoo itself (editable, from $src)"
    _pip --no-build-isolation --no-deps --config-settings editable_mode=compat -e "$src" || return 1
    progress "Odoo $series: OCA queue_job ($QUEUE_JOB_REQUIREMENT) and the test requirements, from PyPI"
    _pip "$QUEUE_JOB_REQUIREMENT" "${QUEUE_JOB_INSTALL_ARGS[@]}" || return 1
    _pip -r "$_ENV_REPO/requirements-test.txt" -c "$src/requirements.txt" || return 1
    "$venv/bin/python" - <<'PY' || { echo "Odoo $series: the new environment does not work" >&2; return 1; }
import gevent.monkey
gevent.monkey.patch_all()
import odoo.addons.base, odoo.addons.queue_job, psycopg2  # noqa
PY
}

odoo_env() {
    local series=$1 venv src stamp
    _series_settings "$series" || return 1
    venv="$_ENV_REPO/.local/venv/$series"
    src="$_ENV_REPO/.local/src/odoo-$series"
    # what went into the environment: the steps that build it (not the
    # comments around them), its inputs and the python3 it comes from
    stamp=$({
        _source_key "$series"
        python3 --version
        declare -f _series_settings _build_env _pip
        cat "$_ENV_REPO/series.cfg" "$_ENV_REPO/requirements-test.txt"
    } | sha256sum | cut -d' ' -f1)
    if [ -f "$venv/.stamp" ] && [ "$(cat "$venv/.stamp")" = "$stamp" ] && [ -d "$src" ]; then
        progress "Odoo $series: reusing $venv"
    else
        local started=$SECONDS
        _debian_build_deps || return 1
        _fetch_source "$series" "$src" || return 1
        _build_env "$series" "$venv" "$src" || return 1
        echo "$stamp" >"$venv/.stamp"
        progress "Odoo $series: environment ready in $((SECONDS - started)) s"
    fi
    export ODOO_SERIES=$series ODOO_PY="$venv/bin/python" ODOO_SRC=$src
    local dirs=() dir
    for dir in "$src/odoo/addons" "$src/addons"; do
        [ -d "$dir" ] && dirs+=("$dir")
    done
    ODOO_ADDONS_PATH=$(IFS=,; echo "${dirs[*]}")
    export ODOO_ADDONS_PATH
}
