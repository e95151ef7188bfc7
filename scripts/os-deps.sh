#!/usr/bin/env bash
# Installs the OS packages the test suite needs, once per machine. Debian packages only.
set -euo pipefail
wanted=(postgresql postgresql-client chromium fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 nginx openssl)  # real PostgreSQL for the service tests, its client (pg_dump, pg_restore) for `relapse backup`; Chromium + CJK fonts for pages and PDFs; Pango for WeasyPrint; nginx + openssl for the TLS front (deploy/)
if [ ${#wanted[@]} -eq 0 ]; then exit 0; fi
missing=()
for pkg in "${wanted[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
