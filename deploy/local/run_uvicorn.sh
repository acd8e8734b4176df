#!/usr/bin/env bash
# Serves deploy/local/benchmark_env.py with uvicorn from a venv this script
# creates from PyPI (once; reused after).
#
#   deploy/local/run_uvicorn.sh                       # openenv-core 0.3.0, 0.0.0.0:8000
#   WORKERS=8 PORT=8001 MAX_CONCURRENT_ENVS=4096 deploy/local/run_uvicorn.sh
#   OPENENV_PACKAGE=openenv==0.10.0 deploy/local/run_uvicorn.sh
#   deploy/local/run_uvicorn.sh --install-only       # just build the venv
#   APP=text_game_env:app deploy/local/run_uvicorn.sh # the rollout text game
#   APP=mcp_env:app OPENENV_PACKAGE=openenv==0.10.0 deploy/local/run_uvicorn.sh
#
# Variables: WORKERS (2), PORT (8000), HOST (0.0.0.0), MAX_CONCURRENT_ENVS
# (100, per worker), OPENENV_PACKAGE (openenv-core==0.3.0), VENV (a venv per
# package beside this script), PYTHON (python3), APP (benchmark_env:app;
# text_game_env:app and mcp_env:app are the rollout environments).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
package="${OPENENV_PACKAGE:-openenv-core==0.3.0}"
venv="${VENV:-$here/.venv-$(echo "$package" | tr -c 'a-zA-Z0-9.\n' '-')}"

# One installer at a time per venv (several servers may start at once on a
# fresh machine; two pips writing one venv corrupt it).
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if [ ! -x "$venv/bin/uvicorn" ] || [ ! -f "$venv/.installed" ]; then
  echo "run_uvicorn.sh: creating $venv with $package" >&2
  "${PYTHON:-python3}" -m venv --clear "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$package" "uvicorn[standard]"
  touch "$venv/.installed"
fi
flock -u 9
exec 9>&-
[ "${1:-}" = "--install-only" ] && exit 0

export PORT="${PORT:-8000}" MAX_CONCURRENT_ENVS="${MAX_CONCURRENT_ENVS:-100}"
cd "$here"
exec "$venv/bin/uvicorn" "${APP:-benchmark_env:app}" --host "${HOST:-0.0.0.0}" --port "$PORT" \
  --workers "${WORKERS:-2}" --log-level warning
