#!/usr/bin/env bash
# Installs what goipwatch needs on a fresh Debian / Raspberry Pi OS machine, then builds it.
# Idempotent and quick when everything is there: called by `npm run demo`, `npm test`, `npm run bench`.
#   1. Debian packages (with sudo when not root): libpcap-dev (to build the pcap module), build tools,
#      tshark (benchmark peer), sip-tester (sipp) and tcpdump (fixture generation), socat (serial
#      tests), mosquitto (MQTT tests).
#   2. npm ci, when package-lock.json or the Node version changed since the last install.
#   3. the TypeScript build (incremental).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

# --- Node -------------------------------------------------------------------------------------
need_major=20; need_minor=19
ver=$(node -p 'process.versions.node' 2>/dev/null || echo 0.0.0)
major=${ver%%.*}; rest=${ver#*.}; minor=${rest%%.*}
if [ "$major" -lt "$need_major" ] || { [ "$major" -eq "$need_major" ] && [ "$minor" -lt "$need_minor" ]; }; then
  say "Node.js $ver is too old: goipwatch needs Node >= $need_major.$need_minor (install it from your distribution or nodesource), then run this again."
  exit 2
fi

# --- Debian packages --------------------------------------------------------------------------
pkgs=(libpcap-dev tshark sip-tester socat mosquitto tcpdump python3 make g++)
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
      if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else say "not root and no sudo: install ${missing[*]} by hand"; exit 2; fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    # wireshark-common asks whether non-root users may capture: answer no (goipwatch uses capabilities).
    echo 'wireshark-common wireshark-common/install-setuid boolean false' | $SUDO debconf-set-selections 2>/dev/null || true
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
    # The mosquitto package starts a broker on :1883; tests start their own on free ports.
  fi
else
  say "not a Debian system: make sure libpcap development files, tshark, sipp, socat and mosquitto are installed"
fi

# --- npm dependencies -------------------------------------------------------------------------
stamp=node_modules/.goipwatch-setup
want="$(sha256sum package-lock.json | cut -d' ' -f1) node-$(node -p 'process.versions.modules')"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "npm ci (native modules pcap and better-sqlite3 build from source: a minute or two)"
  npm ci --no-audit --no-fund >&2
  echo "$want" > "$stamp"
fi

# --- build ------------------------------------------------------------------------------------
npx --no-install tsc -p tsconfig.json >&2
