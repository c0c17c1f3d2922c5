#!/usr/bin/env bash
# Regenerates the capture fixtures in fixtures/ with real tools (sipp, python sockets, dnsmasq,
# busybox, curl, socat) inside network namespaces of its own, then checks fixtures/manifest.json
# against the new files with tshark. Dev machines only, as root; CI never runs it: the captures
# are committed. See fixtures/README.md.
#
#   sudo scripts/gen-fixtures.sh                  all top-level fixtures, then the manifest check
#   sudo scripts/gen-fixtures.sh vlan-qinq ipv6   only these scripts (names in scripts/fixtures/), then the check
#   scripts/gen-fixtures.sh --check               only the manifest check (no root needed)
#   sudo scripts/gen-fixtures.sh --install-deps   apt-get the missing tools first
#   sudo scripts/gen-fixtures.sh --batches        also run scripts/fixtures/*/run-all.sh (other batches)
set -euo pipefail
cd "$(dirname "$0")/.."

SCRIPTS=(
  goip-sms-server goip-sip-lines sip-tcp-split vlan-qinq ipv6 fragmented-invite linktypes
  vendor-dinstar vendor-ejoin vendor-yeastar goip-web-telnet
  negative-pbx-trunk negative-softphone negative-household negative-trap-oui
  bad-derived bad-garbage
)
# tool → Debian package
declare -A PKG=(
  [ip]=iproute2 [tc]=iproute2 [ss]=iproute2 [tcpdump]=tcpdump [dumpcap]=wireshark-common [tshark]=tshark
  [capinfos]=wireshark-common [mergecap]=wireshark-common [sipp]=sip-tester [socat]=socat
  [dnsmasq]=dnsmasq-base [busybox]=busybox [curl]=curl [python3]=python3
)

check_only=0 install=0 batches=0 only=()
for a in "$@"; do
  case $a in
    --check) check_only=1 ;;
    --install-deps) install=1 ;;
    --batches) batches=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    -*) echo "unknown option $a" >&2; exit 2 ;;
    *) only+=("$a") ;;
  esac
done

if [[ $check_only -eq 0 ]]; then
  [[ $(id -u) -eq 0 ]] || { echo "gen-fixtures: run as root (namespaces, captures)" >&2; exit 1; }
  missing=()
  for t in "${!PKG[@]}"; do command -v "$t" >/dev/null || missing+=("${PKG[$t]}"); done
  if [[ ${#missing[@]} -gt 0 ]]; then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    if [[ $install -eq 1 ]]; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    else
      echo "gen-fixtures: missing packages: ${missing[*]} (apt-get install them, or pass --install-deps)" >&2
      exit 1
    fi
  fi
  [[ ${#only[@]} -gt 0 ]] && SCRIPTS=("${only[@]}")
  start=$SECONDS
  for s in "${SCRIPTS[@]}"; do
    [[ -f scripts/fixtures/$s.sh ]] || { echo "gen-fixtures: no script scripts/fixtures/$s.sh" >&2; exit 2; }
    echo "== $s"
    bash "scripts/fixtures/$s.sh"
  done
  if [[ $batches -eq 1 ]]; then
    for r in scripts/fixtures/*/run-all.sh; do [[ -f $r ]] && { echo "== $r"; bash "$r"; }; done
  fi
  echo "== generated in $((SECONDS - start)) s"
fi

echo "== manifest check"
python3 scripts/fixtures/check-manifest.py
