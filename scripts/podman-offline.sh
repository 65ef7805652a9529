#!/usr/bin/env bash
# Makes `podman build` of Baton's Dockerfile work on a Debian 12 host that
# reaches Debian's package mirror but no image registry (CI's machines):
#
#   1. installs podman, runc and debootstrap from Debian's packages when
#      they are missing;
#   2. when /etc/containers/containers.conf sets no runtime, writes one for
#      hosts without systemd (runc, cgroupfs, no default ulimits);
#   3. when podman has no debian:bookworm-slim image, builds a minimal
#      Debian 12 root filesystem with debootstrap (from the host's mirror)
#      and imports it under that name, so `FROM debian:bookworm-slim`
#      builds with `--pull=never`.
#
#   bash scripts/podman-offline.sh      # deploy/test.sh runs it for podman
#
# Idempotent: a second run only checks. Needs root. The first run takes
# about a minute (debootstrap). A host that can pull from a registry does
# not need it: `podman build .` pulls the base image itself.
set -euo pipefail

missing=()
for tool in podman runc debootstrap; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]} > 0)); then
  echo "podman-offline: installing ${missing[*]} from Debian's packages" >&2
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

conf=/etc/containers/containers.conf
if ! grep -qs '^runtime *=' "$conf"; then
  mkdir -p "$(dirname "$conf")"
  cat >>"$conf" <<'EOF'
# Written by Baton's scripts/podman-offline.sh: a host without systemd.
[containers]
default_ulimits = []

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
EOF
fi

base=docker.io/library/debian:bookworm-slim
if ! podman image exists "$base"; then
  echo "podman-offline: no $base image: building one with debootstrap" >&2
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  if ! debootstrap --variant=minbase bookworm "$work/root" >"$work/debootstrap.log" 2>&1; then
    tail -20 "$work/debootstrap.log" >&2
    echo "podman-offline: debootstrap failed (the log's end is above)" >&2
    exit 1
  fi
  # No package lists or downloaded packages in the image: the Dockerfile
  # runs apt-get update itself.
  rm -rf "$work/root/var/lib/apt/lists/"* "$work/root/var/cache/apt/archives/"*.deb
  tar -C "$work/root" -c . |
    podman import --change 'CMD ["/bin/bash"]' - docker.io/library/debian:bookworm >/dev/null
  podman tag docker.io/library/debian:bookworm "$base"
fi
echo "podman-offline: ready: podman $(podman --version | awk '{print $3}'), $base present"
