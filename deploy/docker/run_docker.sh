#!/usr/bin/env bash
# local-docker: builds the Python OpenEnv benchmark server image
# (deploy/docker/server/Dockerfile: deploy/local's app on openenv-core from
# PyPI) and runs it with docker, or podman when there is no docker; waits
# for /health, prints the URL and stays in the foreground. Stopping the
# script (Ctrl-C, SIGTERM — what `envload experiment` sends) stops and
# removes the container.
#
#   deploy/docker/run_docker.sh                       # :8000, 2 workers
#   WORKERS=8 PORT=8001 MAX_CONCURRENT_ENVS=4096 deploy/docker/run_docker.sh
#   APP=text_game_env:app deploy/docker/run_docker.sh # a rollout environment
#
# Without a registry, make the base images first (deploy/docker/base_images.sh).
# Variables: PORT (8000, also the container's), HOST (0.0.0.0), WORKERS (2),
# MAX_CONCURRENT_ENVS (100, per worker), APP (benchmark_env:app),
# OPENENV_PACKAGE (openenv-core==0.3.0), IMAGE (envload-openenv-server),
# NAME (envload-openenv-PORT), DOCKER (docker, else podman: Debian's needs
# its catatonit package for --init), NO_BUILD=1,
# NETWORK (publish: the port published with -p, what most users run; host:
# the host's network, no proxy in the path). Docker's userland proxy
# (docker-proxy, one per published port) holds 3 descriptors per connection
# under dockerd's RLIMIT_NOFILE and dies when it runs out, after which the
# port refuses everything until the container is recreated: measured here
# at 20000 descriptors, 4096 concurrent HTTP sessions (~2 connections each)
# reached it; 2048 passed and uvicorn on the host network held 4096. Raise
# dockerd's LimitNOFILE or use NETWORK=host for large batches.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
docker="${DOCKER:-$(command -v docker || command -v podman || echo docker)}"
image="${IMAGE:-envload-openenv-server}"
port="${PORT:-8000}"
name="${NAME:-envload-openenv-$port}"

if [ -z "${NO_BUILD:-}" ]; then
  if ! "$docker" build --quiet -f "$root/deploy/docker/server/Dockerfile" \
      --build-arg "OPENENV_PACKAGE=${OPENENV_PACKAGE:-openenv-core==0.3.0}" \
      -t "$image" "$root" >/dev/null; then
    echo "run_docker.sh: building $image failed; without a registry, make the base images first: deploy/docker/base_images.sh" >&2
    exit 1
  fi
fi

# shellcheck disable=SC2317  # run by the EXIT trap
stop() {
  "$docker" stop --time 5 "$name" >/dev/null 2>&1 || true
  "$docker" rm --force "$name" >/dev/null 2>&1 || true
}
"$docker" rm --force "$name" >/dev/null 2>&1 || true
trap stop EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
if [ "${NETWORK:-publish}" = host ]; then
  net=(--network host)
else
  net=(--publish "${HOST:-0.0.0.0}:$port:$port")
fi
# Descriptors and processes: the host's hard limits, said explicitly.
# Docker passes its daemon's on; podman asks for more (nofile 1048576),
# which a host with lower hard limits refuses ("error setting rlimit"), and
# holds its own process limit to kernel.pid_max.
limit=()
nofile="$(ulimit -Hn)" nproc="$(ulimit -Hu)" pid_max="$(cat /proc/sys/kernel/pid_max)"
if [ "$nproc" = unlimited ] || [ "$nproc" -gt "$pid_max" ]; then nproc="$pid_max"; fi
if [ "$nofile" != unlimited ]; then limit+=(--ulimit "nofile=$nofile:$nofile"); fi
limit+=(--ulimit "nproc=$nproc:$nproc")
"$docker" run --detach --init --name "$name" "${net[@]}" "${limit[@]}" \
  --env "PORT=$port" --env "WORKERS=${WORKERS:-2}" \
  --env "MAX_CONCURRENT_ENVS=${MAX_CONCURRENT_ENVS:-100}" \
  --env "APP=${APP:-benchmark_env:app}" "$image" >/dev/null

for _ in $(seq 1 240); do
  if curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
    echo "run_docker.sh: serving at http://127.0.0.1:$port (container $name, $docker)"
    "$docker" wait "$name" >/dev/null &
    wait $!
    echo "run_docker.sh: container $name exited" >&2
    "$docker" logs --tail 20 "$name" >&2 || true
    exit 1
  fi
  if [ "$("$docker" inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" != "true" ]; then
    echo "run_docker.sh: container $name stopped before /health answered:" >&2
    "$docker" logs --tail 20 "$name" >&2 || true
    exit 1
  fi
  sleep 0.5
done
echo "run_docker.sh: no /health from http://127.0.0.1:$port within 120 s" >&2
exit 1
