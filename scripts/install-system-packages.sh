#!/usr/bin/env bash
# Debian packages the test suite needs: a real browser, a simulated AVR running the real
# bootloaders, the AVR toolchain for the reference firmware, socat for ptys, poppler for
# previews, and a PostgreSQL server: the app runs on it as a central server too.
set -euo pipefail
PACKAGES=(
  chromium
  simavr libsimavr-dev libsimavrparts1 arduino-core-avr
  gcc-avr avr-libc binutils-avr
  socat poppler-utils build-essential pkg-config
  postgresql
  iproute2 util-linux
)
if ! command -v apt-get >/dev/null 2>&1; then
  echo "apt-get not found: install these packages with your system's package manager: ${PACKAGES[*]}" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi
