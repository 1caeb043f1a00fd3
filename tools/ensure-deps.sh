#!/usr/bin/env bash
# Installs what building and testing RNNKit needs, only where it is missing:
# libhdf5 and zlib headers (apt on Debian/Ubuntu, Homebrew on macOS), and numpy + h5py for the
# interop tests that read our files back with h5py.
set -euo pipefail

need_system=0
if command -v pkg-config >/dev/null 2>&1; then
  pkg-config --exists hdf5 || need_system=1
  pkg-config --exists zlib || need_system=1
else
  need_system=1
fi

if [ "$need_system" = 1 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libhdf5-dev zlib1g-dev pkg-config >/dev/null
  elif command -v brew >/dev/null 2>&1; then
    brew install hdf5 zlib pkg-config
  else
    echo "error: install libhdf5 and zlib development files (pkg-config names hdf5, zlib)" >&2
    exit 1
  fi
fi

if [ "${RNNKIT_SKIP_PYTHON:-0}" != 1 ] && command -v python3 >/dev/null 2>&1; then
  python3 -c "import numpy, h5py" >/dev/null 2>&1 || python3 -m pip install -q numpy h5py
fi
