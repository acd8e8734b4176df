#!/usr/bin/env bash
# Makes, on this machine, the base images the Dockerfiles here start FROM,
# for machines where no container registry answers (air-gapped clusters,
# CI behind a proxy). With a registry you do not need it: `docker build`
# pulls debian:bookworm-slim and python:3.11-slim itself.
#
#   deploy/docker/base_images.sh                     # idempotent
#   deploy/docker/base_images.sh --extra-ca /usr/local/share/ca-certificates
#
# It builds a Debian bookworm root file system from the Debian mirror apt
# uses (mmdebstrap --variant=minbase), imports it, and tags it with the
# upstream names: debian:bookworm-slim, and python:3.11-slim (Debian's
# python3 with a virtual environment at /usr/local, so `pip install` and
# `python` behave as in the official image). Images already present are
# kept. --extra-ca DIR copies DIR/*.crt into the base image's trust store:
# for networks whose HTTPS goes through a proxy with its own CA (pip inside
# a build then trusts it); it is a property of your network, not of the
# images, so it is an option here and nowhere else.
#
# Variables: DOCKER (docker; podman works too), MIRROR (the first Debian
# mirror in apt's sources), SUITE (bookworm).
set -euo pipefail
docker="${DOCKER:-docker}"
suite="${SUITE:-bookworm}"
extra_ca=""
while [ $# -gt 0 ]; do
  case "$1" in
    --extra-ca) extra_ca="${2:?--extra-ca needs a folder}"; shift 2 ;;
    *) echo "usage: $0 [--extra-ca DIR]" >&2; exit 2 ;;
  esac
done
mirror="${MIRROR:-$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
  | grep -oE '(URIs:|^deb) +https?://[^ ]+' | grep -v security | head -1 | awk '{print $2}' || true)}"
: "${mirror:?no Debian mirror found in the apt sources: set MIRROR}"

have() { "$docker" image inspect "$1" >/dev/null 2>&1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if ! have "debian:$suite-slim"; then
  echo "base_images.sh: debian:$suite-slim from $mirror" >&2
  hook=()
  if [ -n "$extra_ca" ]; then
    cp "$extra_ca"/*.crt "$tmp/"
    hook=(--customize-hook="mkdir -p \"\$1/usr/local/share/ca-certificates\" && cp $tmp/*.crt \"\$1/usr/local/share/ca-certificates/\" && chroot \"\$1\" update-ca-certificates")
  fi
  mmdebstrap --quiet --variant=minbase --include=ca-certificates "${hook[@]}" \
    "$suite" "$tmp/rootfs.tar" "deb $mirror $suite main"
  "$docker" import --change 'CMD ["/bin/bash"]' "$tmp/rootfs.tar" "localhost/debian:$suite"
  "$docker" tag "localhost/debian:$suite" "debian:$suite-slim"
fi

if ! have python:3.11-slim; then
  echo "base_images.sh: python:3.11-slim (Debian's python3, venv at /usr/local)" >&2
  cat >"$tmp/Dockerfile" <<DOCKERFILE
FROM debian:$suite-slim
RUN apt-get -o Acquire::Retries=5 -o Acquire::http::Timeout=30 update \\
 && apt-get -o Acquire::Retries=5 -o Acquire::http::Timeout=30 install -y --no-install-recommends python3 python3-venv \\
 && rm -rf /var/lib/apt/lists/* \\
 && python3 -m venv --clear /usr/local \\
 && /usr/local/bin/pip install --no-cache-dir --quiet --upgrade pip
ENV PATH=/usr/local/bin:\$PATH PYTHONUNBUFFERED=1
CMD ["python3"]
DOCKERFILE
  "$docker" build --quiet -t python:3.11-slim "$tmp" >/dev/null
fi
# By the names a Dockerfile uses (podman lists them as localhost/…).
for image in "debian:$suite-slim" python:3.11-slim; do
  echo "$image $("$docker" image inspect --format '{{.Size}}' "$image") bytes"
done
