#!/usr/bin/env bash
# Installs the Debian 12 packages trailstream needs to build, run and test. Idempotent: when
# everything is present it does nothing; it uses sudo only when not running as root.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libmicrohttpd-dev libssl-dev libcjson-dev libsqlite3-dev libyaml-dev
  libcurl4-openssl-dev zlib1g-dev libdeflate-dev
  python3 wrk
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# The integration tests drive the real AWS CLI and boto3: use whatever is on PATH, and add
# Debian's packages only where they are missing.
if ! command -v aws >/dev/null 2>&1; then
  missing+=(awscli)
fi
if ! python3 -c 'import boto3' >/dev/null 2>&1; then
  missing+=(python3-boto3)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
