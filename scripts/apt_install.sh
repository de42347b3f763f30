# Sourced by the build scripts (setup.sh, fuzz.sh, build_cuda.sh): apt_install_missing WHO PKG...
# installs the Debian packages among PKG that are not installed yet (with sudo unless root), and
# says so, prefixed with WHO; nothing happens when all are there.
apt_install_missing() {
  local who=$1
  shift
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "$who: installing ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
