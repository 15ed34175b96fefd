#!/usr/bin/env bash
# Installs the system packages the compatibility tests need: Debian's `tarantool` (for net.box).
# Idempotent: does nothing when the binary is already there; runs `apt-get update` once otherwise.
set -euo pipefail

if command -v tarantool >/dev/null 2>&1; then
  echo "tarantool present: $(tarantool --version | head -n 1)"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends tarantool
echo "installed: $(tarantool --version | head -n 1)"
