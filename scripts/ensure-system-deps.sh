#!/usr/bin/env bash
# Installs what the test tiers need from Debian's packages when it is missing:
# PostgreSQL 15 server binaries (integration tier), Chromium (browser tier) and the fonts of
# the contract PDFs.
set -euo pipefail

# `ensure-system-deps.sh fonts` checks only the fonts (what `make run` needs).
need=()
if [ "${1:-all}" != "fonts" ]; then
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  if ! command -v initdb >/dev/null 2>&1 && [ -z "$pg_bin" ]; then need+=(postgresql); fi
  if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then need+=(chromium); fi
fi
# fonts for the contract PDFs: a CJK TrueType font and DejaVu for Latin letters and digits
if [ ! -f /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf ]; then need+=(fonts-droid-fallback); fi
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then need+=(fonts-dejavu-core); fi
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
