#!/usr/bin/env bash
# Installs what the test tiers need from Debian's packages when it is missing:
# PostgreSQL 15 server binaries (integration tier) and Chromium (browser tier).
set -euo pipefail

need=()
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
if ! command -v initdb >/dev/null 2>&1 && [ -z "$pg_bin" ]; then need+=(postgresql); fi
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then need+=(chromium); fi
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=sudo; else
    echo "missing system packages: ${need[*]} — install them with: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
else
  SUDO=
fi
echo "installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
