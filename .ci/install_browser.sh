#!/usr/bin/env bash
# Install Debian's Chromium at /usr/bin/chromium for tests/test_dashboard_browser.py.
#
# Idempotent: does nothing when Chromium is already there, and runs
# `apt-get update` only when the package lists do not know the package.
# Never downloads a browser build of its own (no `playwright install`).
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    echo "install_browser: $CHROMIUM already installed ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown')); nothing to do."
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install_browser: not root and no sudo; install the Debian package 'chromium' by hand." >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive

candidate() {
    apt-cache policy chromium 2>/dev/null | awk '/Candidate:/ {print $2}'
}

if [ -z "$(candidate)" ] || [ "$(candidate)" = "(none)" ]; then
    echo "install_browser: package lists do not know 'chromium'; running apt-get update."
    $SUDO apt-get update -qq
else
    echo "install_browser: package lists already know chromium $(candidate); skipping apt-get update."
fi

if [ -z "$(candidate)" ] || [ "$(candidate)" = "(none)" ]; then
    echo "install_browser: no installable 'chromium' package in the configured apt sources." >&2
    exit 1
fi

echo "install_browser: installing chromium $(candidate) with apt-get."
$SUDO apt-get install -y -qq chromium >/dev/null

if [ ! -x "$CHROMIUM" ]; then
    echo "install_browser: apt-get finished but $CHROMIUM is missing." >&2
    exit 1
fi
echo "install_browser: installed $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")."
