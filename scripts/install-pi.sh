#!/usr/bin/env bash
# Installs goipwatch as a probe on a Raspberry Pi (Raspberry Pi OS / Debian 12 or later).
# Idempotent: run it again after `git pull` to upgrade; the config in /etc/goipwatch is never
# overwritten. Run from a checkout:  sudo scripts/install-pi.sh   (or --dry-run to see the steps)
#
#   1. Debian packages: libpcap (capture), build tools (the native modules pcap, better-sqlite3)
#   2. system user goipwatch (no login, no home), member of dialout
#   3. /opt/goipwatch: a copy of this checkout, npm ci (when the lock file changed), build
#   4. /usr/local/bin/goipwatch: a wrapper, so `goipwatch doctor` works
#   5. systemd unit, udev rule (ModemManager off the bank), tmpfiles; config if missing
#   6. systemctl daemon-reload, enable (start only when a config existed before: edit it first)
set -euo pipefail

DRY_RUN=0
SKIP_APT=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    --skip-apt) SKIP_APT=1 ;;
    -h|--help)
      sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
      echo "options: --dry-run (print the steps, change nothing)  --skip-apt (no Debian packages)"
      exit 0 ;;
    *) echo "install-pi: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done

SRC="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX=/opt/goipwatch
ETC=/etc/goipwatch
USER_NAME=goipwatch
NODE=/usr/bin/node

say() { printf 'install-pi: %s\n' "$*" >&2; }
# Run a command, or print it under --dry-run.
run() {
  if [ "$DRY_RUN" -eq 1 ]; then printf '+'; printf ' %q' "$@"; printf '\n'; else "$@"; fi
}
# Write stdin to a file (mode $2), or show it under --dry-run.
write_file() {
  local path=$1 mode=$2 tmp
  if [ "$DRY_RUN" -eq 1 ]; then printf '+ write %s (mode %s):\n' "$path" "$mode"; sed 's/^/    /'; return; fi
  tmp=$(mktemp "$path.XXXXXX")
  cat > "$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$path"
}

if [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
  say "run as root: sudo $0 $*   (or --dry-run to only see the steps)"
  exit 2
fi
[ "$DRY_RUN" -eq 1 ] && say "dry run: nothing is changed; the commands are printed with +"

# --- 0. Node ----------------------------------------------------------------------------------
if [ ! -x "$NODE" ]; then
  say "$NODE not found: install Node.js 20.19 or later (Debian 13: apt install nodejs; Debian 12: NodeSource) — the unit runs $NODE"
  [ "$DRY_RUN" -eq 1 ] || exit 2
else
  ver=$("$NODE" -p 'process.versions.node')
  major=${ver%%.*}; rest=${ver#*.}; minor=${rest%%.*}
  if [ "$major" -lt 20 ] || { [ "$major" -eq 20 ] && [ "$minor" -lt 19 ]; }; then
    say "Node.js $ver is too old: goipwatch needs 20.19 or later"
    [ "$DRY_RUN" -eq 1 ] || exit 2
  fi
fi

# --- 1. Debian packages -------------------------------------------------------------------------
if [ "$SKIP_APT" -eq 0 ]; then
  missing=()
  for p in libpcap0.8 libpcap-dev python3 make g++ rsync; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    run apt-get update -qq
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  else
    say "Debian packages present"
  fi
fi

# --- 2. user --------------------------------------------------------------------------------------
if id -u "$USER_NAME" >/dev/null 2>&1; then
  say "user $USER_NAME exists"
else
  run useradd --system --user-group --home-dir /var/lib/goipwatch --no-create-home \
    --shell /usr/sbin/nologin --comment "goipwatch probe" "$USER_NAME"
fi
# dialout for `sudo -u goipwatch goipwatch doctor`; the service gets it from SupplementaryGroups.
if id -nG "$USER_NAME" 2>/dev/null | tr ' ' '\n' | grep -qx dialout; then :; else run usermod -aG dialout "$USER_NAME"; fi

# --- 3. code in /opt/goipwatch (root-owned: the daemon cannot change its own code) ---------------
run install -d -m 0755 -o root -g root "$PREFIX"
run rsync -a --delete --exclude node_modules --exclude dist --exclude .git --exclude '*.db' \
  --exclude bench/out --exclude __pycache__ "$SRC/" "$PREFIX/"
# npm ci only when the lock file or the Node ABI changed (native modules are tied to it).
stamp="$PREFIX/node_modules/.goipwatch-install"
want="$(sha256sum "$SRC/package-lock.json" | cut -d' ' -f1) node-$("$NODE" -p 'process.versions.modules' 2>/dev/null || echo none)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  say "node_modules up to date"
else
  run env -C "$PREFIX" npm ci --no-audit --no-fund
  [ "$DRY_RUN" -eq 1 ] || echo "$want" > "$stamp"
fi
# Dev dependencies (TypeScript) stay: the next upgrade builds again without a full npm ci.
run env -C "$PREFIX" npm run build

# --- 4. command wrapper -------------------------------------------------------------------------
write_file /usr/local/bin/goipwatch 0755 <<EOF
#!/bin/sh
# goipwatch, installed by scripts/install-pi.sh
exec $NODE $PREFIX/dist/src/cli/main.js "\$@"
EOF

# --- 5. systemd, udev, tmpfiles, config -----------------------------------------------------------
run install -m 0644 "$SRC/systemd/goipwatch.service" /etc/systemd/system/goipwatch.service
run install -m 0644 "$SRC/systemd/99-goipwatch-modems.rules" /etc/udev/rules.d/99-goipwatch-modems.rules
run install -m 0644 "$SRC/systemd/goipwatch.tmpfiles.conf" /etc/tmpfiles.d/goipwatch.conf
run systemd-tmpfiles --create /etc/tmpfiles.d/goipwatch.conf
run udevadm control --reload
run udevadm trigger --action=change --subsystem-match=usb --subsystem-match=tty
if systemctl is-active --quiet ModemManager 2>/dev/null; then
  say "ModemManager is running: restarting it so it forgets the bank (the udev rule now tells it to)"
  run systemctl restart ModemManager
fi

had_config=0
if [ -e "$ETC/config.yaml" ]; then
  had_config=1
  say "$ETC/config.yaml exists: kept as it is"
else
  run install -m 0640 -o root -g "$USER_NAME" "$SRC/config/goipwatch.example.yaml" "$ETC/config.yaml"
fi

# --- 6. enable ---------------------------------------------------------------------------------
run systemctl daemon-reload
run systemctl enable goipwatch.service
if [ "$had_config" -eq 1 ]; then
  run systemctl restart goipwatch.service
  say "done: goipwatch restarted. Check it:  goipwatch doctor  and  systemctl status goipwatch"
else
  say "done. Next: edit $ETC/config.yaml (probe.id, mqtt.url …), put the MQTT password in"
  say "  $ETC/mqtt-password (chmod 0640, chgrp $USER_NAME), run  goipwatch doctor,"
  say "  then  sudo systemctl start goipwatch   (it also starts by itself at every boot)"
fi
