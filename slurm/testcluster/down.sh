#!/usr/bin/env bash
# Tears the local Slurm test cluster down: cancels its jobs, stops the
# daemons it started (by their pid files), kills what is left inside its
# node namespaces (by PID), removes namespaces, veths, bridge and the lab
# folder. Idempotent: safe to run when nothing (or half) is up.
# shellcheck source-path=SCRIPTDIR
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"

export SLURM_CONF="$LAB/etc/slurm.conf"
if [ -f "$SLURM_CONF" ] && pid_alive "$(cat "$LAB/run/slurmctld.pid" 2>/dev/null)"; then
  timeout 10 scancel --full --quiet --user=root 2>/dev/null || true
fi

stop_pid() {
  local pid="$1" i
  pid_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for i in $(seq 1 50); do pid_alive "$pid" || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

# However many nodes it was brought up with.
NODES="$(cat "$LAB/run/nodes" 2>/dev/null || echo "$MAX_NODES")"
for i in $(seq 1 "$NODES"); do
  stop_pid "$(cat "$LAB/run/slurmd-$(node_name "$i").pid" 2>/dev/null)"
done
stop_pid "$(cat "$LAB/run/slurmctld.pid" 2>/dev/null)"
stop_pid "$(cat "$LAB/run/munged.pid" 2>/dev/null)"

for i in $(seq 1 "$NODES"); do
  ns="$(node_ns "$i")"
  if ip netns list | grep -qw "$ns"; then
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns delete "$ns" 2>/dev/null || true
  fi
  ip link delete "$(node_veth "$i")" 2>/dev/null || true
done
ip link delete "$BRIDGE" 2>/dev/null || true
rm -rf "$LAB"
echo "Slurm test cluster down"
