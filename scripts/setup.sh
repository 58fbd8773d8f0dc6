#!/usr/bin/env bash
# Installs what kubeha and its test suite need on a Debian machine (run as root):
# the Debian packages below, then the npm packages from package-lock.json.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(openssl etcd-server etcd-client systemd-container debootstrap iproute2 nftables openssh-client iputils-arping curl wrk haproxy nginx-light libnginx-mod-stream)

# a real Kubernetes client for the lab tests: Debian's kubernetes-client, unless a kubectl is already
# installed (another package's /usr/bin/kubectl would make dpkg refuse it)
command -v kubectl >/dev/null || packages+=(kubernetes-client)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

echo "setup: npm ci"
npm ci --no-audit --no-fund
