#!/usr/bin/env bash
# Installs Debian's Chromium for the dashboard's browser test (test/serve.browser.test.ts), when
# /usr/bin/chromium is missing. Safe to run again: it only acts when the browser is missing.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if [ -x /usr/bin/chromium ]; then
  echo "browser: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) already installed"
  exit 0
fi
as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "browser: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
