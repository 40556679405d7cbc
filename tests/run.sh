#!/usr/bin/env bash
# The test command: installs the Debian/Ubuntu packages the tests drive (only those missing;
# apt-get as root, `sudo apt-get` otherwise), checks that every tool is there, then runs the
# suite as the invoking user. Arguments go to `cargo test` (e.g. a test name filter).
#
# Usage: bash tests/run.sh [CARGO TEST ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'tests/run.sh: %s\n' "$*" >&2; }

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
done < tests/required-tools.txt

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
