#!/usr/bin/env bash
# Brings up a real multi-node Slurm cluster on this machine: munged and
# slurmctld in the root namespace, one slurmd per node, each in its own
# network, UTS and mount namespace with its own hostname (n1, n2, …) and IP.
# Idempotent: a cluster already up is left as it is. Needs root, iproute2,
# util-linux (nsenter, unshare) and Debian's slurmctld, slurmd, slurm-client
# and munge packages.
#
#   ENVLOAD_SLURM_NODES=3 ENVLOAD_SLURM_NODE_CPUS=4 slurm/testcluster/up.sh
#   NODES=6 NETEM='delay 10ms loss 0.5%' slurm/testcluster/up.sh
#   export SLURM_CONF=/tmp/envload-slurm-lab/etc/slurm.conf   # printed at the end
#
# NETEM is netem's syntax, applied to every node's link (its eth0, outgoing)
# with `tc qdisc … netem` where the kernel has netem. Where it has not, the
# lab builds the two parts it takes from what is here: `loss P%` with
# iptables' statistic match (outgoing packets on the link dropped with
# probability P), `delay Dms` with envload's delaying relay (`envload
# lab-delay`, found as $ENVLOAD or in target/) that iptables hands every
# TCP connection the node opens over its link: each chunk waits D each way,
# so a connection a node opens has its round trip grown by 2·D (netem on
# both ends' links gives the same between nodes; to the controller, 2·D
# where netem gives D). Other netem words need netem.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=lib.sh
. "$here/lib.sh"

for tool in slurmctld slurmd sinfo munged ip nsenter unshare; do
  command -v "$tool" >/dev/null || { echo "up.sh: '$tool' not found; install slurmctld slurmd slurm-client munge iproute2" >&2; exit 1; }
done

case "$NODES" in
  ''|*[!0-9]*) echo "up.sh: NODES='$NODES' is not a count of nodes (1 to $MAX_NODES)" >&2; exit 2 ;;
esac
if [ "$NODES" -lt 1 ] || [ "$NODES" -gt "$MAX_NODES" ]; then
  echo "up.sh: NODES=$NODES: the lab has 1 to $MAX_NODES nodes" >&2; exit 2
fi

# netem_parts: sets NETEM_DELAY_MS and NETEM_LOSS_PCT from $NETEM, or fails
# naming what it cannot do without netem.
netem_parts() {
  NETEM_DELAY_MS=""; NETEM_LOSS_PCT=""
  # shellcheck disable=SC2086  # words on purpose
  set -- $NETEM
  while [ $# -gt 0 ]; do
    case "$1 ${2:-}" in
      "delay "*ms) NETEM_DELAY_MS="${2%ms}"; shift 2 ;;
      "loss "*%) NETEM_LOSS_PCT="${2%\%}"; shift 2 ;;
      *) echo "up.sh: NETEM='$NETEM': this kernel has no netem, and the lab's own stand-in does 'delay Nms' and 'loss P%' only (not '$1')" >&2; return 1 ;;
    esac
  done
}

# the relay binary, for a delay without netem
envload_for_delay() {
  local repo; repo="$(cd "$here/../.." && pwd)"
  for c in "${ENVLOAD:-}" "$repo/target/release/envload" "$repo/target/debug/envload" "$(command -v envload || true)"; do
    [ -n "$c" ] && [ -x "$c" ] && { echo "$c"; return 0; }
  done
  echo "up.sh: NETEM asks for a delay and the kernel has no netem: the lab's relay is envload's; build it (cargo build) or set ENVLOAD" >&2
  return 1
}

if [ -f "$LAB/run/up" ] && pid_alive "$(cat "$LAB/run/slurmctld.pid" 2>/dev/null)" \
  && [ "$(cat "$LAB/run/nodes" 2>/dev/null)" = "$NODES" ] \
  && [ "$(cat "$LAB/run/netem" 2>/dev/null)" = "$NETEM" ]; then
  echo "Slurm test cluster already up ($NODES nodes); export SLURM_CONF=$LAB/etc/slurm.conf"
  exit 0
fi
"$here/down.sh" >/dev/null 2>&1 || true

mkdir -p "$LAB"/{etc,log,state,run,munge,spool}
chmod 711 "$LAB/munge"

# --- munge (private key and socket) ---------------------------------------
dd if=/dev/urandom of="$LAB/munge/munge.key" bs=1024 count=1 status=none
chmod 600 "$LAB/munge/munge.key"
munged --force --key-file="$LAB/munge/munge.key" --socket="$LAB/munge/munge.socket" \
  --pid-file="$LAB/run/munged.pid" --log-file="$LAB/log/munged.log" --seed-file="$LAB/munge/munge.seed"

# --- network: a bridge, one namespace + veth per node ----------------------
ip link add "$BRIDGE" type bridge
ip addr add "$CTL_IP/24" dev "$BRIDGE"
ip link set "$BRIDGE" up
{
  echo "127.0.0.1 localhost"
  echo "$CTL_IP $CTL_NAME"
  for i in $(seq 1 "$NODES"); do echo "$(node_ip "$i") $(node_name "$i")"; done
} > "$LAB/etc/hosts"
for i in $(seq 1 "$NODES"); do
  ns="$(node_ns "$i")"; veth="$(node_veth "$i")"
  ip netns add "$ns"
  ip link add "$veth" type veth peer name eth0 netns "$ns"
  ip link set "$veth" master "$BRIDGE" up
  ip -n "$ns" addr add "$(node_ip "$i")/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" link set lo up
  mkdir -p "$LAB/spool/$(node_name "$i")"
done

# --- NETEM: delay and loss on every node's link ----------------------------
if [ -n "$NETEM" ]; then
  for i in $(seq 1 "$NODES"); do
    ns="$(node_ns "$i")"
    # shellcheck disable=SC2086  # netem's words
    if ip netns exec "$ns" tc qdisc add dev eth0 root netem $NETEM 2>/dev/null; then
      continue
    fi
    netem_parts || exit 2
    if [ -n "$NETEM_LOSS_PCT" ]; then
      p="$(awk -v p="$NETEM_LOSS_PCT" 'BEGIN { printf "%.6f", p / 100 }')"
      ip netns exec "$ns" iptables -A OUTPUT -o eth0 -m statistic --mode random --probability "$p" -j DROP
    fi
    if [ -n "$NETEM_DELAY_MS" ]; then
      relay="$(envload_for_delay)" || exit 2
      log="$LAB/log/lab-delay-$(node_name "$i").log"
      ip netns exec "$ns" "$relay" lab-delay --listen "127.0.0.1:$DELAY_PORT" --delay-ms "$NETEM_DELAY_MS" >"$log" 2>&1 &
      for _ in $(seq 1 50); do grep -q "relaying on" "$log" 2>/dev/null && break; sleep 0.1; done
      grep -q "relaying on" "$log" || { echo "up.sh: the delaying relay of $(node_name "$i") did not start; see $log" >&2; exit 1; }
      # Every TCP connection the node opens over its link, but the relay's own.
      ip netns exec "$ns" iptables -t nat -A OUTPUT -o eth0 -p tcp -m mark ! --mark 0x6c64 \
        -j REDIRECT --to-ports "$DELAY_PORT"
    fi
  done
  echo "$NETEM" > "$LAB/run/netem"
fi

# --- slurm.conf --------------------------------------------------------------
: > "$LAB/etc/plugstack.conf"
{
  cat <<CONF
ClusterName=envload-test
SlurmctldHost=$CTL_NAME($CTL_IP)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$LAB/munge/munge.socket
CredType=cred/munge
MailProg=/bin/true
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
PlugStackConfig=$LAB/etc/plugstack.conf
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
ReturnToService=2
KillWait=5
MinJobAge=600
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
StateSaveLocation=$LAB/state
SlurmdSpoolDir=$LAB/spool/%n
SlurmctldPidFile=$LAB/run/slurmctld.pid
SlurmdPidFile=$LAB/run/slurmd-%n.pid
SlurmctldLogFile=$LAB/log/slurmctld.log
SlurmdLogFile=$LAB/log/slurmd-%n.log
SlurmctldPort=6817
SlurmdPort=6818
CONF
  for i in $(seq 1 "$NODES"); do
    echo "NodeName=$(node_name "$i") NodeAddr=$(node_ip "$i") CPUs=$NODE_CPUS RealMemory=1000 State=UNKNOWN"
  done
  echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
} > "$LAB/etc/slurm.conf"
export SLURM_CONF="$LAB/etc/slurm.conf"

# --- daemons -------------------------------------------------------------------
slurmctld -f "$SLURM_CONF" -i
for i in $(seq 1 "$NODES"); do
  name="$(node_name "$i")"
  # nsenter --net keeps /sys (ip netns exec would remount it, and slurmd needs
  # the cgroup fs); the private UTS and mount namespaces give the node its
  # hostname and /etc/hosts.
  nsenter --net="/run/netns/$(node_ns "$i")" unshare --uts --mount --propagation private \
    sh -c "hostname '$name' && mount --bind '$LAB/etc/hosts' /etc/hosts && exec slurmd -f '$SLURM_CONF' -N '$name'"
done

# --- wait until every node is idle ----------------------------------------------
for _ in $(seq 1 100); do
  idle="$(sinfo -h -N -o '%N %t' 2>/dev/null | awk '$2 == "idle"' | wc -l)"
  [ "$idle" -ge "$NODES" ] && break
  sleep 0.2
done
if [ "${idle:-0}" -lt "$NODES" ]; then
  echo "up.sh: only ${idle:-0} of $NODES nodes idle; see $LAB/log" >&2
  sinfo -N >&2 || true
  exit 1
fi
touch "$LAB/run/up"
echo "$NODES" > "$LAB/run/nodes"
echo "Slurm test cluster up: $NODES nodes ($(node_name 1)..$(node_name "$NODES"), $NODE_CPUS CPUs each) on $BRIDGE $CTL_IP/24${NETEM:+, links: $NETEM}"
echo "export SLURM_CONF=$SLURM_CONF"
