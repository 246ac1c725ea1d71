#!/usr/bin/env bash
# A real node's container runtime (hack/node.sh): Debian's containerd (1.6, CRI plugin), runc, the CNI plugins
# (bridge, host-local, portmap in /usr/lib/cni), iptables and conntrack for kube-proxy. kubelet, kube-proxy and the
# pause image come from hack/build-control-plane.sh (30-control-plane); `hack/setup.sh node` builds them too.
# Without root or apt the node tests skip with a stated reason.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
source "$here/env.sh"
export PATH="$PATH:/usr/local/go/bin"
pkgs="containerd runc containernetworking-plugins iptables conntrack"
have() { command -v containerd >/dev/null && command -v runc >/dev/null && [ -x /usr/lib/cni/bridge ] \
  && command -v iptables >/dev/null && command -v conntrack >/dev/null; }
if ! have; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $pkgs >/dev/null; } \
      || echo "    WARNING: apt-get could not install $pkgs (the node tests will skip)"
  else
    echo "    not root or no apt-get: $pkgs not installed (the node tests will skip)"
  fi
fi
if have; then echo "    $(containerd --version | cut -d' ' -f1,3), $(runc --version | head -1), CNI plugins in /usr/lib/cni"; fi
# Already built when 30-control-plane ran (the `all` target); this builds them when only this step runs.
if command -v go >/dev/null; then
  "$here/build-control-plane.sh" node || echo "    WARNING: kubelet/kube-proxy/pause build failed (the node tests will skip)"
fi
