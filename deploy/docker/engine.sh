#!/usr/bin/env bash
# A Docker engine for the container tests and local-docker runs on machines
# whose package manager installs dockerd but starts no service (CI, VMs
# without systemd): `up` starts one on its own socket and data root and
# prints the DOCKER_HOST to export; `down` stops it and removes what dockerd
# leaves behind (its bridge, its iptables chains). With an engine already
# answering (DOCKER_HOST or the default socket), `up` uses it and `down`
# leaves it alone.
#
#   eval "$(deploy/docker/engine.sh up)"     # then docker … works
#   deploy/docker/engine.sh down
#
# Variables: ENGINE_DIR (/tmp/envload-docker: data root, exec root, socket,
# pid file and log).
set -euo pipefail
dir="${ENGINE_DIR:-/tmp/envload-docker}"
sock="$dir/docker.sock"
pidfile="$dir/dockerd.pid"

case "${1:-}" in
  up)
    if [ -z "${DOCKER_HOST:-}" ] && docker info >/dev/null 2>&1; then
      echo "# engine.sh: using the Docker engine already running" >&2
      exit 0
    fi
    if [ -S "$sock" ] && DOCKER_HOST="unix://$sock" docker info >/dev/null 2>&1; then
      echo "export DOCKER_HOST=unix://$sock"
      exit 0
    fi
    command -v dockerd >/dev/null || { echo "engine.sh: no dockerd (apt-get install docker.io)" >&2; exit 1; }
    mkdir -p "$dir/data" "$dir/exec"
    # dockerd sets the FORWARD policy to DROP, which (with bridge netfilter,
    # which it loads) cuts every other bridge on the host: the Slurm test
    # lab's nodes stopped reaching each other. Its own forwarding rules are
    # explicit ACCEPTs, so the policy is put back as it was.
    policy="$(iptables -S FORWARD 2>/dev/null | awk '$1 == "-P" {print $3}')"
    dockerd --data-root "$dir/data" --exec-root "$dir/exec" -H "unix://$sock" \
      --pidfile "$pidfile" >"$dir/dockerd.log" 2>&1 &
    for _ in $(seq 1 100); do
      if DOCKER_HOST="unix://$sock" docker info >/dev/null 2>&1; then
        if [ "$policy" = ACCEPT ]; then
          iptables -P FORWARD ACCEPT
        fi
        echo "export DOCKER_HOST=unix://$sock"
        exit 0
      fi
      sleep 0.2
    done
    echo "engine.sh: dockerd did not come up; its log:" >&2
    tail -20 "$dir/dockerd.log" >&2
    exit 1
    ;;
  down)
    if [ -f "$pidfile" ]; then
      pid="$(cat "$pidfile")"
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$pidfile"
    fi
    ip link delete docker0 2>/dev/null || true
    # Network namespaces the daemon left mounted under its exec root.
    for ns in "$dir"/exec/netns/*; do
      if [ -e "$ns" ]; then umount "$ns" 2>/dev/null || true; fi
    done
    for chain in DOCKER DOCKER-USER DOCKER-ISOLATION-STAGE-1 DOCKER-ISOLATION-STAGE-2; do
      iptables -t filter -F "$chain" 2>/dev/null || true
    done
    iptables -t nat -F DOCKER 2>/dev/null || true
    ;;
  *)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac
