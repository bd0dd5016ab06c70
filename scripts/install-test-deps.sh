#!/usr/bin/env bash
# Installs what the end-to-end tests drive: the real log shippers (crates/kasbah-cli/tests/clients.rs),
# rsyslog with its Elasticsearch, TLS and RELP modules, and syslog-ng; and headless Chromium with its
# WebDriver (crates/kasbah-cli/tests/console.rs). Debian's rsyslog and syslog-ng
# packages conflict (both are "the" system logger), so syslog-ng's package is unpacked under
# /opt/syslog-ng instead of installed; only its libraries are installed. Safe to run twice.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-test-deps: not root and no sudo; the shipper tests will skip" >&2; exit 0
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: no apt-get; the shipper tests will skip" >&2; exit 0
fi

need=()
command -v rsyslogd >/dev/null 2>&1 || [ -x /usr/sbin/rsyslogd ] || need+=(rsyslog)
[ -e /usr/lib/x86_64-linux-gnu/rsyslog/omelasticsearch.so ] || need+=(rsyslog-elasticsearch)
[ -e /usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so ] || need+=(rsyslog-gnutls)
[ -e /usr/lib/x86_64-linux-gnu/rsyslog/omrelp.so ] || need+=(rsyslog-relp)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
fc-list 2>/dev/null | grep -qi dejavu || need+=(fonts-dejavu-core)
SNG=/opt/syslog-ng
if [ ! -x "$SNG/usr/sbin/syslog-ng" ]; then
  need+=(libcap2 libglib2.0-0 libivykis0 libjson-c5 libnet1 libpcre3 libssl3 libwrap0)
fi
if [ "${#need[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null || true
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [ ! -x "$SNG/usr/sbin/syslog-ng" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download syslog-ng-core >/dev/null)
  $SUDO mkdir -p "$SNG"
  $SUDO dpkg -x "$tmp"/syslog-ng-core_*.deb "$SNG"
  rm -rf "$tmp"
fi
echo "install-test-deps: $(chromium --version 2>/dev/null || echo 'no chromium'),"
echo "install-test-deps: rsyslog $(rsyslogd -v 2>/dev/null | head -1 | awk '{print $2}'), syslog-ng under $SNG"
