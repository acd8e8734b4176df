#!/usr/bin/env bash
# Publishes the benchmark server as a Hugging Face Docker Space: stages the
# envload sources with this folder's Dockerfile and README (the Space's front
# matter) and uploads them with the `hf` CLI (pip install huggingface_hub).
#
#   HF_TOKEN=... deploy/hf_spaces/deploy.sh <owner>/<space>
#   HARDWARE=cpu-upgrade WORKERS=8 deploy/hf_spaces/deploy.sh me/envload-bench
#
# Variables: HF_TOKEN (required by hf), WORKERS / MAX_CONCURRENT_ENVS (set as
# Space variables when given), PRIVATE=1 for a private Space.
set -euo pipefail
space="${1:?usage: deploy.sh OWNER/SPACE}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
command -v hf >/dev/null || { echo "deploy.sh: the 'hf' CLI is missing: pip install -U huggingface_hub" >&2; exit 1; }

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp -r "$root/Cargo.toml" "$root/Cargo.lock" "$root/proto" "$root/agent" "$root/benchenv" "$root/coordinator" "$stage/"
mkdir -p "$stage/deploy" && cp -r "$root/deploy/lb" "$stage/deploy/"
cp "$root/deploy/hf_spaces/Dockerfile" "$root/deploy/hf_spaces/README.md" "$stage/"

hf repo create "$space" --repo-type space --space-sdk docker ${PRIVATE:+--private} --exist-ok
hf upload "$space" "$stage" . --repo-type space --commit-message "envload benchmark server"
for var in WORKERS MAX_CONCURRENT_ENVS; do
  if [ -n "${!var:-}" ]; then
    echo "deploy.sh: set the Space variable $var=${!var} in its settings (Settings → Variables)"
  fi
done
echo "deploy.sh: https://huggingface.co/spaces/$space (URL for envload: https://${space/\//-}.hf.space)"
