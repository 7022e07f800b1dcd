#!/usr/bin/env bash
# Install the system packages the stack runs on, from Debian's archive, when any is missing:
# PostgreSQL, Redis, Java 17 and Maven (for the Kafka broker), curl, Chromium (the headless
# browser the browser tests drive with Playwright) and promtool (from Debian's prometheus package;
# tests/stack/test_alert_rules.py checks stack/prometheus/ with it). As root it installs them;
# otherwise it says exactly what to install.
set -euo pipefail

missing=()
ls -d /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
command -v curl >/dev/null || missing+=(curl)
command -v chromium >/dev/null || missing+=(chromium)
command -v promtool >/dev/null || missing+=(prometheus)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "error: missing system packages. Install them, then run make up again:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "==> installing ${missing[*]} from Debian's packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# No package may start a service while it installs (Debian's policy-rc.d mechanism, exit 101):
# the prometheus package is here for its promtool only, and its own server would start on *:9090.
policy=/usr/sbin/policy-rc.d
if [ ! -e $policy ]; then
  printf '#!/bin/sh\nexit 101\n' >$policy && chmod +x $policy
  trap 'rm -f $policy' EXIT
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# The prometheus package's postinst also enables its server at boot (on *:9090, pointing at an
# Alertmanager on localhost:9093, Kafka's controller port here): keep it off.
if [[ " ${missing[*]} " == *" prometheus "* ]]; then
  if [ -d /run/systemd/system ]; then
    systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  else # no systemd running (a container): the package started it with its init script
    /etc/init.d/prometheus stop >/dev/null 2>&1 || true
    update-rc.d prometheus disable >/dev/null 2>&1 || true
    systemctl disable prometheus.service >/dev/null 2>&1 || true # the unit's links, for a later boot
  fi
fi
