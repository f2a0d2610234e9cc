# Shared by the benchmark scripts: run as root (directly or through sudo),
# install missing Debian packages, and build the release binary.

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# need_packages COMMAND:PACKAGE ...: installs each PACKAGE whose COMMAND is
# not found.
need_packages() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null || [ -x "/usr/sbin/${pair%%:*}" ] || missing+=("${pair#*:}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# build_release [cargo build arguments]: a release build into the shared
# target folder.
build_release() {
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/activepath/target}"
  cargo build --release --locked "$@"
}
