#!/usr/bin/env bash
# Builds the envload image and runs it: the benchmark server by default, or
# any envload subcommand given as arguments.
#
#   deploy/docker/run_docker.sh                          # serve on :8000
#   WORKERS=8 PORT=8001 MAX_CONCURRENT_ENVS=8192 deploy/docker/run_docker.sh
#   deploy/docker/run_docker.sh run -u http://host.docker.internal:8000 -n 1024
#
# Variables: PORT (8000), WORKERS (2), MAX_CONCURRENT_ENVS (4096),
# IMAGE (envload:local), NAME (envload-server), DOCKER (docker), NO_BUILD=1.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
docker="${DOCKER:-docker}"
image="${IMAGE:-envload:local}"
port="${PORT:-8000}"

if [ "${NO_BUILD:-0}" != "1" ]; then
  "$docker" build -f "$root/deploy/docker/Dockerfile" -t "$image" "$root"
fi
if [ "$#" -eq 0 ]; then
  set -- serve --host 0.0.0.0
fi
# Every session is a descriptor: give the container room for many.
exec "$docker" run --rm --name "${NAME:-envload-server}" \
  -p "$port:$port" \
  -e PORT="$port" -e WORKERS="${WORKERS:-2}" -e MAX_CONCURRENT_ENVS="${MAX_CONCURRENT_ENVS:-4096}" \
  --ulimit nofile=1048576:1048576 \
  "$image" "$@"
