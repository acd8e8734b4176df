#!/usr/bin/env bash
# Shared settings of the local Slurm test cluster (sourced by up.sh/down.sh).
# One network namespace per node on a bridge; slurmctld and munged in the
# root namespace. Everything lives under $ENVLOAD_SLURM_LAB.
# shellcheck disable=SC2034  # the variables are used by the scripts that source this

LAB="${ENVLOAD_SLURM_LAB:-/tmp/envload-slurm-lab}"
# NODES=N (or ENVLOAD_SLURM_NODES): 1 to MAX_NODES nodes.
NODES="${NODES:-${ENVLOAD_SLURM_NODES:-3}}"
MAX_NODES=8
# NETEM='delay 10ms loss 0.5%': on every node's link (see up.sh).
NETEM="${NETEM:-}"
# The delaying relay's port inside each node (kernels without netem).
DELAY_PORT=7999
NODE_CPUS="${ENVLOAD_SLURM_NODE_CPUS:-4}"
BRIDGE="${ENVLOAD_SLURM_BRIDGE:-elbr0}"
NET="${ENVLOAD_SLURM_NET:-10.200.0}"
CTL_IP="$NET.1"
CTL_NAME="$(hostname)"

node_name() { echo "n$1"; }
node_ns() { echo "envload-n$1"; }
node_ip() { echo "$NET.$((10 + $1))"; }
node_veth() { echo "elv$1"; }

# pid_alive PID: running and not a zombie (PID 1 here may reap late).
pid_alive() {
  local pid="$1" state
  [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 1
  state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)"
  [ -n "$state" ] && [ "$state" != "Z" ] && [ "$state" != "X" ]
}
