#!/usr/bin/env bash
# The test command: installs the Debian/Ubuntu packages the tests drive (only those missing;
# apt-get as root, `sudo apt-get` otherwise), checks that every tool is there, then runs the
# suite as the invoking user. Arguments go to `cargo test` (e.g. a test name filter).
#
# Usage: bash tests/run.sh [-y] [CARGO TEST ARGS...]
# On a terminal it asks before installing packages; -y (or CI=true) installs without asking.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'tests/run.sh: %s\n' "$*" >&2; }

assume_yes=false
args=()
for arg in "$@"; do
  if [ "$arg" = -y ]; then assume_yes=true; else args+=("$arg"); fi
done
set -- ${args[@]+"${args[@]}"}
[ "${CI-}" = true ] && assume_yes=true

# cargo as root in a tree that belongs to someone else would leave root-owned files in
# target/ and that user's next `cargo test` would fail with "Permission denied".
owner=$(stat -c %u .)
if [ "$(id -u)" = 0 ] && [ "$owner" != 0 ]; then
  say "run this as the owner of $(pwd) (uid $owner), not as root: it uses sudo only for apt-get"
  exit 1
fi
command -v cargo >/dev/null || { say "cargo is not on PATH; install Rust (https://rustup.rs) first"; exit 1; }

# TOOL PACKAGE pairs, one per line, from the table the test harness reads too.
tools=()
packages=()
while read -r tool package _; do
  case $tool in '' | '#'*) continue ;; esac
  tools+=("$tool")
  packages+=("$package")
done < "${NOMADCTX_REQUIRED_TOOLS:-tests/required-tools.txt}"

missing_packages() {
  local i seen=" "
  for i in "${!tools[@]}"; do
    if ! command -v "${tools[$i]}" >/dev/null && [[ $seen != *" ${packages[$i]} "* ]]; then
      seen+="${packages[$i]} "
      printf '%s\n' "${packages[$i]}"
    fi
  done
}

mapfile -t wanted < <(missing_packages)
if [ "${#wanted[@]}" -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    say "not a Debian/Ubuntu system; install these packages' equivalents and run again: ${wanted[*]}"
    exit 1
  fi
  if [ "$(id -u)" = 0 ]; then
    apt=(apt-get)
  elif command -v sudo >/dev/null; then
    apt=(sudo apt-get)
  else
    say "these packages are missing and there is no sudo; as root run: apt-get install ${wanted[*]}"
    exit 1
  fi
  if ! $assume_yes && [ -t 0 ]; then
    say "the tests drive real programs; these Debian packages are missing: ${wanted[*]}"
    say "(on a fresh machine about 270 packages with their dependencies, about 0.5 GB: Wine, Go, KeePassXC, GNOME Keyring)"
    printf 'tests/run.sh: install them with %s? [y/N] ' "${apt[*]}" >&2
    read -r answer || answer=
    case $answer in
      [yY] | [yY][eE][sS]) ;;
      *) say "nothing installed; run again with -y to install without asking"; exit 1 ;;
    esac
  fi
  say "installing ${wanted[*]}"
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq --no-install-recommends "${wanted[@]}" >/dev/null
fi

# Preflight: every missing tool at once, then stop, rather than one per failing test.
absent=()
for i in "${!tools[@]}"; do
  command -v "${tools[$i]}" >/dev/null || absent+=("${tools[$i]} (package ${packages[$i]})")
done
if [ "${#absent[@]}" -gt 0 ]; then
  say "still missing after the install:"
  printf '  %s\n' "${absent[@]}" >&2
  exit 1
fi
# Tests reach agents on localhost, as users type it.
if ! getent hosts localhost >/dev/null; then
  say "the name localhost does not resolve on this machine, and the tests (like Nomad's own"
  say "defaults) use it; add it to /etc/hosts:"
  say "  127.0.0.1 localhost"
  say "  ::1 localhost ip6-localhost ip6-loopback"
  exit 1
fi
# The kernel-keyring tests run in a user namespace of their own, so that they never see the
# user's own kernel keyrings (the user and persistent keyrings are per user and namespace).
if ! unshare --user --map-current-user true 2>/dev/null; then
  say "this system refuses unprivileged user namespaces (unshare --user), which the kernel-keyring"
  say "tests need to stay away from your own keyrings; on Ubuntu 24.04 and later:"
  say "  sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0   (until the next boot)"
  exit 1
fi

# windows.rs cross-builds nomadctx for Windows and runs it under Wine.
if ! command -v rustup >/dev/null; then
  say "rustup is not on PATH: the Windows test (tests/it/windows.rs) needs Rust's x86_64-pc-windows-gnu"
  say "target, which rustup installs; install Rust with rustup (https://rustup.rs)"
  exit 1
fi
if ! rustup target list --installed | grep -qx x86_64-pc-windows-gnu; then
  say "adding the Rust target x86_64-pc-windows-gnu (rustup)"
  rustup target add x86_64-pc-windows-gnu
fi

exec cargo test --locked "$@"
