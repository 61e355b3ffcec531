#!/usr/bin/env bash
# Starts (or stops) the real servers the lake tests run against, on 127.0.0.1 only:
#   SeaweedFS  S3 on :8333 and an Iceberg REST catalog on :8181 (fresh data dir each start)
#   PostgreSQL on :55432 (private cluster, trust auth, fresh each start)
# `ci/services.sh start` prints the environment the tests read (eval it); `stop` ends both.
set -euo pipefail
cd "$(dirname "$0")/.."
source ci/env.sh
# Outside $HOME: the postgres user must reach its data directory.
run="${ICEGATE_SERVICES_DIR:-/var/tmp/icegate-services}"

stop() {
    for pidfile in "$run"/*.pid; do
        [ -f "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        kill "$pid" 2>/dev/null || true
        # Wait for it to exit: it removes its unix sockets (fixed paths in /tmp) on the way
        # out, which would break a new instance started meanwhile.
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$pidfile"
    done
    if [ -d "$run/pg" ]; then
        su postgres -c "$(pg_bin)/pg_ctl -D $run/pg -m immediate stop" >/dev/null 2>&1 || true
    fi
}

pg_bin() {
    local initdb
    initdb=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$initdb" ]; then
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
        initdb=$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
    fi
    dirname "$initdb"
}

wait_for() { # url, seconds
    for _ in $(seq 1 $(($2 * 10))); do
        curl -s -o /dev/null "$1" && return 0
        sleep 0.1
    done
    echo "timed out waiting for $1" >&2
    return 1
}

start() {
    stop
    rm -rf "$run" && mkdir -p "$run"
    chmod 755 "$run"

    # SeaweedFS: S3 + Iceberg REST catalog in one process, with one admin identity.
    cat > "$run/s3.json" <<JSON
{"identities":[{"name":"admin","credentials":[{"accessKey":"icegate","secretKey":"icegatesecret"}],"actions":["Admin","Read","List","Tagging","Write"]}]}
JSON
    mkdir -p "$run/weed"
    "$ICEGATE_CACHE/venv/bin/weed" mini -dir="$run/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -master.telemetry=false -admin.ui=false -webdav=false -s3.port.lance=0 \
        -s3.config="$run/s3.json" -bucket=icegate -tableBucket=warehouse \
        >"$run/weed.log" 2>&1 &
    echo $! > "$run/weed.pid"

    # PostgreSQL: a private cluster owned by the postgres user.
    local bin
    bin=$(pg_bin)
    mkdir -p "$run/pg" && chown postgres "$run/pg"
    su postgres -c "$bin/initdb -D $run/pg --auth=trust -U postgres" >"$run/pg-init.log" 2>&1
    su postgres -c "$bin/pg_ctl -D $run/pg -l $run/pg/server.log -o '-c listen_addresses=127.0.0.1 -p 55432 -k /tmp' -w start" >/dev/null

    wait_for http://127.0.0.1:8333 30
    wait_for http://127.0.0.1:8181/v1/config 30
    # The table bucket is created asynchronously after start-up: wait until it answers.
    local token
    for _ in $(seq 1 300); do
        token=$(curl -s -X POST http://127.0.0.1:8181/v1/oauth/tokens \
            -d 'grant_type=client_credentials&client_id=icegate&client_secret=icegatesecret&scope=catalog' |
            sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
        [ -n "$token" ] && curl -sf -o /dev/null -H "Authorization: Bearer $token" \
            http://127.0.0.1:8181/v1/warehouse/namespaces && break
        sleep 0.1
    done
    cat <<ENV
export ICEGATE_TEST_S3_ENDPOINT=http://127.0.0.1:8333
export ICEGATE_TEST_S3_BUCKET=icegate
export ICEGATE_TEST_S3_ACCESS_KEY=icegate
export ICEGATE_TEST_S3_SECRET_KEY=icegatesecret
export ICEGATE_TEST_REST_URI=http://127.0.0.1:8181
export ICEGATE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:55432/postgres
ENV
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
