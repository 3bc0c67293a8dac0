# Sourced by build-image.sh and test-image.sh: podman as these machines need it (runc, cgroupfs,
# no default ulimits) through a containers.conf of our own, pointed to by CONTAINERS_CONF; the
# caller's own setting wins when CONTAINERS_CONF is already set.
if [ -z "${CONTAINERS_CONF:-}" ]; then
  conf_dir="${XDG_RUNTIME_DIR:-/tmp}/aml-miner-podman"
  mkdir -p "$conf_dir"
  cat >"$conf_dir/containers.conf" <<'CONF'
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF
  export CONTAINERS_CONF="$conf_dir/containers.conf"
fi
pod() { podman --runtime runc --cgroup-manager cgroupfs "$@"; }
