#!/usr/bin/env bash
# A Docker engine for the docker-build gate, on a machine with no registry:
#   scripts/docker-engine.sh start        installs docker.io if missing, starts dockerd (log in
#                                          $LAI_DOCKER_DIR/dockerd.log), waits until it answers
#   scripts/docker-engine.sh base-image   builds the local base image once (reused while its tag exists and
#                                          has them): debootstrap bookworm + python3, python3-psycopg(-pool),
#                                          postgresql, then docker import
#   scripts/docker-engine.sh stop         stops the dockerd this script started (by its PID)
# The gate then uses: export LAI_BASE_IMAGE=lai-python-base:bookworm
set -euo pipefail
state="${LAI_DOCKER_DIR:-/tmp/lai-docker}"
base_tag="${LAI_BASE_IMAGE:-lai-python-base:bookworm}"
mkdir -p "$state"

need_root() {
  if [ "$(id -u)" != 0 ]; then echo "docker-engine.sh: $1 needs root" >&2; exit 2; fi
}

install_packages() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  if [ "${#missing[@]}" -gt 0 ]; then
    need_root "installing ${missing[*]}"
    echo "docker-engine.sh: installing ${missing[*]} from Debian's packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

answers() { docker version >/dev/null 2>&1; }

case "${1:-}" in
  start)
    install_packages
    if answers; then echo "docker-engine.sh: an engine already answers"; exit 0; fi
    need_root "starting dockerd"
    started=$EPOCHREALTIME
    nohup dockerd >"$state/dockerd.log" 2>&1 &
    echo $! >"$state/dockerd.pid"
    for _ in $(seq 1 120); do
      if answers; then
        awk -v a="$started" -v b="$EPOCHREALTIME" -v logfile="$state/dockerd.log" \
          'BEGIN { printf "docker-engine.sh: dockerd answers after %.1fs (log %s)\n", b - a, logfile }'
        exit 0
      fi
      sleep 0.25
    done
    echo "docker-engine.sh: dockerd did not answer within 30s; see $state/dockerd.log" >&2
    exit 1
    ;;
  base-image)
    # python3 for the service, its PostgreSQL driver and pool, and PostgreSQL itself (server and psql) for the
    # docker gate's compose stack (database, migrate, service) where no registry has a postgres image.
    if docker image inspect "$base_tag" >/dev/null 2>&1 \
      && docker run --rm --network none "$base_tag" sh -c \
        'python3 -c "import psycopg, psycopg_pool" && ls /usr/lib/postgresql/*/bin/initdb && command -v psql' \
        >/dev/null 2>&1; then
      echo "docker-engine.sh: base image $base_tag exists"; exit 0
    fi
    need_root "debootstrap"
    started=$(date +%s)
    root="$state/rootfs"
    rm -rf "$root"
    debootstrap --variant=minbase --include=python3,python3-psycopg,python3-psycopg-pool,postgresql \
      bookworm "$root" >"$state/debootstrap.log" 2>&1 \
      || { tail -n 20 "$state/debootstrap.log" >&2; exit 1; }
    tar -C "$root" -c . | docker import - "$base_tag" >/dev/null
    rm -rf "$root"
    echo "docker-engine.sh: base image $base_tag built in $(( $(date +%s) - started ))s"
    ;;
  stop)
    if [ -f "$state/dockerd.pid" ]; then
      kill "$(cat "$state/dockerd.pid")" 2>/dev/null || true
      rm -f "$state/dockerd.pid"
    fi
    ;;
  *)
    echo "usage: scripts/docker-engine.sh start|base-image|stop" >&2
    exit 2
    ;;
esac
