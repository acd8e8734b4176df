#!/usr/bin/env bash
# Helpers shared by envload's sbatch scripts (sourced, never run). Nothing
# here is site-specific: the envload binary comes from $ENVLOAD_BIN, the PATH
# or the checkout the job was submitted from; nodes come from the allocation.

# envload_bin: the envload executable to run on the nodes.
envload_bin() {
  local candidate
  for candidate in "${ENVLOAD_BIN:-}" "$(command -v envload 2>/dev/null || true)" \
    "${ENVLOAD_HOME:-${SLURM_SUBMIT_DIR:-.}}/target/release/envload"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then
      echo "$candidate"
      return 0
    fi
  done
  echo "envload: no envload binary: set ENVLOAD_BIN, put envload on PATH, or build target/release/envload in the submit directory" >&2
  return 1
}

# job_nodes: the allocation's node names, one per line.
job_nodes() {
  scontrol show hostnames "${SLURM_JOB_NODELIST:?not inside a Slurm job}"
}

# wait_healthy URL SECONDS: polls GET URL/health until it answers 200.
wait_healthy() {
  local url="$1" limit="$2" hostport host port status
  hostport="${url#http://}"
  hostport="${hostport%%/*}"
  host="${hostport%:*}"
  port="${hostport##*:}"
  for _ in $(seq 1 $((limit * 5))); do
    status="$( (exec 3<>"/dev/tcp/$host/$port" && printf 'GET /health HTTP/1.0\r\nHost: %s\r\n\r\n' "$host" >&3 && head -n1 <&3) 2>/dev/null || true)"
    case "$status" in *" 200"*) return 0 ;; esac
    sleep 0.2
  done
  echo "envload: $url did not become healthy within ${limit}s" >&2
  return 1
}

# start_server NODE: starts the benchmark server (or $SERVER_CMD) on NODE in
# the background as a job step of this shell; appends its URL to
# SERVER_URLS. $PORT, $SERVER_WORKERS and $MAX_CONCURRENT_ENVS apply. (Not
# for `$(…)`: the step must stay a child of the batch shell.)
start_server() {
  local node="$1" port="${PORT:-8000}" workers="${SERVER_WORKERS:-${SLURM_CPUS_PER_TASK:-2}}"
  if [ -n "${SERVER_CMD:-}" ]; then
    PORT="$port" WORKERS="$workers" srun --overlap --nodes=1 --ntasks=1 -w "$node" \
      bash -c "$SERVER_CMD" >"${LOG_DIR:-.}/envload-server-$node-${SLURM_JOB_ID}.log" 2>&1 &
  else
    srun --overlap --nodes=1 --ntasks=1 -w "$node" \
      "$ENVLOAD" serve --host 0.0.0.0 --port "$port" --workers "$workers" \
      ${MAX_CONCURRENT_ENVS:+--max-concurrent-envs "$MAX_CONCURRENT_ENVS"} \
      >"${LOG_DIR:-.}/envload-server-$node-${SLURM_JOB_ID}.log" 2>&1 &
  fi
  SERVER_URLS+=("http://$node:$port")
}

# run_load TARGETS: the coordinator on this node, agents on $AGENT_NODES
# (comma-separated; default: every node of the job), $AGENTS_PER_NODE each.
# TARGETS is one URL or a comma-separated list. Plan from the environment:
# REQUESTS_GRID, WAIT_GRID, MODE, REPS, TIMEOUT, EXPECTED_HOSTS, SCENARIO (a
# rollout scenario file; the grid's requests and waits win), STAGES (a stage
# plan, --stages: replaces REQUESTS_GRID; the wait is WAIT_GRID's first),
# EXTRA_ARGS.
run_load() {
  local targets="$1" head port agent_nodes per_node n_nodes agents token out coord_pid rc url_flag
  local plan=(--requests-grid "${REQUESTS_GRID:-32,128,512}" --wait-grid "${WAIT_GRID:-1.0}")
  if [ -n "${STAGES:-}" ]; then
    local wait="${WAIT_GRID:-1.0}"
    plan=(--stages "$STAGES" --wait "${wait%%,*}")
  fi
  head="$(hostname)"
  port="${COORD_PORT:-$((20000 + ${SLURM_JOB_ID:-0} % 20000))}"
  agent_nodes="${AGENT_NODES:-$(job_nodes | paste -sd, -)}"
  per_node="${AGENTS_PER_NODE:-1}"
  n_nodes="$(echo "$agent_nodes" | tr ',' '\n' | grep -c .)"
  agents=$((n_nodes * per_node))
  token="$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  out="${OUTPUT_DIR:-${RESULTS_ROOT:-${SLURM_SUBMIT_DIR:-.}/experiments/results}/${INFRASTRUCTURE:?}/$(date -u +%Y-%m-%d)}"
  url_flag="--url"
  case "$targets" in *,*) url_flag="--urls" ;; esac

  echo "envload: coordinator on $head:$port, $agents agent(s) on $agent_nodes, target(s) $targets, results in $out"
  # shellcheck disable=SC2086  # EXTRA_ARGS is a list of flags
  ENVLOAD_TOKEN="$token" "$ENVLOAD" coordinator --listen "0.0.0.0:$port" --agents "$agents" \
    --agent-wait "${AGENT_WAIT:-120}" "$url_flag" "$targets" \
    "${plan[@]}" \
    --mode "${MODE:-ws}" --reps "${REPS:-1}" --timeout "${TIMEOUT:-120}" \
    --infrastructure "$INFRASTRUCTURE" --hardware "${HARDWARE:-slurm}" -o "$out" \
    ${EXPECTED_HOSTS:+--expected-hosts "$EXPECTED_HOSTS" --require-hosts} \
    ${SCENARIO:+--scenario "$SCENARIO"} ${NOTES:+--notes "$NOTES"} ${EXTRA_ARGS:-} &
  coord_pid=$!
  COORD_PID=$coord_pid
  # Agents: one step across the agent nodes; each task names itself.
  # shellcheck disable=SC2016  # expanded by the task's own shell
  ENVLOAD_TOKEN="$token" srun --overlap --nodes="$n_nodes" --ntasks="$agents" --ntasks-per-node="$per_node" -w "$agent_nodes" \
    --kill-on-bad-exit=0 bash -c 'exec "$0" agent --coordinator "$1" --name "$(hostname)-$SLURM_PROCID" --cpus "$2"' \
    "$ENVLOAD" "http://$head:$port" "${AGENT_CPUS:-1}" &
  AGENTS_PID=$!
  rc=0
  # A trapped SIGTERM interrupts `wait`; keep waiting until the coordinator
  # has flushed and exited.
  while kill -0 "$coord_pid" 2>/dev/null; do
    wait "$coord_pid" && rc=0 || rc=$?
  done
  wait "$AGENTS_PID" || true
  return "$rc"
}

# forward_term: on SIGTERM (time limit, scancel) let the coordinator flush
# its finished phases and mark the partial one before the job ends.
forward_term() {
  trap 'echo "envload: SIGTERM: stopping the coordinator"; [ -n "${COORD_PID:-}" ] && kill -TERM "$COORD_PID" 2>/dev/null' TERM
}
