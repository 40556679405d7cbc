#!/usr/bin/env bash
# Times nomadctx against a bare `true` and against the ways people switch Nomad clusters
# today, with hyperfine, in a private world: a temporary HOME, a private D-Bus session bus
# with gnome-keyring-daemon (as the tests use), the kernel keyring, the file store, and certificates made
# here with openssl. Prints the machine and one markdown table per question.
#
# Usage: benches/run.sh [RUNS]     (default 200 runs per command; builds the release binary)
# Needs (Debian): hyperfine dbus-daemon gnome-keyring libsecret-tools openssl keyutils direnv
# musl-tools, and `rustup target add x86_64-unknown-linux-musl` for the static binary's rows.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}
for tool in hyperfine dbus-daemon gnome-keyring-daemon secret-tool openssl keyctl unshare direnv; do
  command -v "$tool" >/dev/null || { echo "benches: $tool is missing (see the header for packages)" >&2; exit 1; }
done
# The kernel keyring backend writes to the session and the persistent keyring, which the
# kernel keeps per user: run in a user namespace of our own, with a new session keyring,
# so that the user's own kernel keyrings are out of reach.
if [ -z "${NOMADCTX_BENCH_SANDBOX:-}" ]; then
  rustup target list --installed | grep -qx x86_64-unknown-linux-musl || {
    echo "benches: the musl target is missing: rustup target add x86_64-unknown-linux-musl" >&2
    exit 1
  }
  command -v musl-gcc >/dev/null || { echo "benches: musl-gcc is missing (Debian: musl-tools)" >&2; exit 1; }
  cargo build --release --locked -q
  cargo build --release --locked -q --target x86_64-unknown-linux-musl
  # What the normal build is made of: distinct crate versions, and crates in two versions.
  NOMADCTX_BENCH_CRATES="$(cargo tree --locked -e normal --prefix none | sed 's/ (\*)//; s/ (proc-macro)//' | sort -u | wc -l) distinct crate versions (cargo tree -e normal); in two versions: $(cargo tree --locked -e normal --duplicates --prefix none --depth 0 | sed -n 's/^\([a-z0-9_-]*\) v.*/\1/p' | sort -u | tr '\n' ' ')"
  export NOMADCTX_BENCH_CRATES
  exec unshare --user --map-current-user keyctl session - \
    env NOMADCTX_BENCH_SANDBOX=1 bash "$0" "$@"
fi
bin=$PWD/target/release/nomadctx
static=$PWD/target/x86_64-unknown-linux-musl/release/nomadctx
versions="$(hyperfine --version); $(rustc --version)"

work=$(mktemp -d /tmp/nomadctx-bench.XXXXXX)
# shellcheck source=tests/support/secret-service.sh
. tests/support/secret-service.sh
cleanup() {
  stop_secret_service
  rm -rf "$work" "${run_dir:-}"
}
trap cleanup EXIT

# The runtime directory in memory, as /run/user/UID is on a desktop or a server with
# systemd-logind: `use` writes the key file there.
run_dir=$(mktemp -d /dev/shm/nomadctx-bench-run.XXXXXX)
export HOME=$work/home XDG_RUNTIME_DIR=$run_dir LANG=C.UTF-8 SHELL=/bin/bash
mkdir -p -m 700 "$HOME"
unset NOMADCTX_CONTEXT NOMADCTX_PREVIOUS NOMADCTX_KEYCHAIN NOMADCTX_RUNTIME_DIR
for var in $(env | grep -o '^NOMAD_[A-Z_]*' || true); do unset "$var"; done

# A private session bus and an unlocked login keyring on it, stopped by the cleanup.
start_secret_service "$work/secret-service" bench-password

# A CA and a CLI certificate, as the Nomad mTLS guide makes them.
pki=$work/pki
mkdir -p "$pki" && cd "$pki"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout nomad-ca-key.pem \
  -out nomad-ca.pem -days 30 -subj /CN=bench-ca -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout cli-key.pem -out cli.csr \
  -subj /CN=cli.global.nomad 2>/dev/null
printf 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n' > ext
openssl x509 -req -in cli.csr -CA nomad-ca.pem -CAkey nomad-ca-key.pem -CAcreateserial \
  -out cli.pem -days 60 -extfile ext 2>/dev/null
cd - >/dev/null
addr=https://nomad.prod.example:4646
files=(--ca "$pki/nomad-ca.pem" --cert "$pki/cli.pem" --key "$pki/cli-key.pem")

# Config dirs: the Secret Service, the kernel keyring, and 1, 100 and 1,000 contexts.
make_config() { # DIR BACKEND
  mkdir -p "$1"
  # The file store is created with a passphrase and left unlocked (the kernel user keyring
  # of this namespace), as after `nomadctx unlock`.
  printf 'bench-passphrase\n' | NOMADCTX_CONFIG_DIR=$1 "$bin" keychain use "$2" --passphrase-stdin >/dev/null 2>&1
  NOMADCTX_CONFIG_DIR=$1 "$bin" add prod --address "$addr" "${files[@]}" >/dev/null 2>&1
}
make_config "$work/cfg-ss" secret-service
make_config "$work/cfg-keyutils" keyutils
make_config "$work/cfg-file" file
make_config "$work/cfg-token" secret-service
printf 'bench-acl-token' | NOMADCTX_CONFIG_DIR=$work/cfg-token "$bin" set prod --token-stdin >/dev/null 2>&1
for n in 1 100 1000; do
  make_config "$work/cfg-$n" secret-service
  # The other contexts only need to exist in the config: `list` and `use prod` read it whole.
  for i in $(seq 2 "$n"); do
    printf '\n[contexts.ctx-%04d]\naddress = "https://nomad-%d.example:4646"\nregion = "r%d"\n' "$i" "$i" "$i"
  done >> "$work/cfg-$n/config.toml"
done

# Today's ways: direnv with the guide's four exports, and a script that reads the key with
# secret-tool into a temp file, runs the command and removes the file.
mkdir -p "$work/envrc"
cat > "$work/envrc/.envrc" <<ENVRC
export NOMAD_ADDR=$addr
export NOMAD_CACERT=$pki/nomad-ca.pem
export NOMAD_CLIENT_CERT=$pki/cli.pem
export NOMAD_CLIENT_KEY=$pki/cli-key.pem
ENVRC
direnv allow "$work/envrc" 2>/dev/null
secret-tool store --label 'bench: nomad cli key' tool bench-nomad-key < "$pki/cli-key.pem"
cat > "$work/with-secret-tool" <<SCRIPT
#!/bin/sh
set -e
key=\$(mktemp)
trap 'rm -f "\$key"' EXIT
secret-tool lookup tool bench-nomad-key > "\$key"
export NOMAD_ADDR=$addr NOMAD_CACERT=$pki/nomad-ca.pem NOMAD_CLIENT_CERT=$pki/cli.pem NOMAD_CLIENT_KEY=\$key
"\$@"
SCRIPT
chmod +x "$work/with-secret-tool"

table() { # TITLE, then hyperfine arguments
  local title=$1; shift
  printf '\n### %s\n\n' "$title"
  if ! hyperfine -N --warmup 10 --runs "$runs" --style none --export-markdown "$work/t.md" "$@" >/dev/null 2>"$work/err"; then
    cat "$work/err" >&2
    exit 1
  fi
  cat "$work/t.md"
}

echo "## nomadctx benchmarks ($(date -u +%Y-%m-%d), $runs runs each)"
echo
echo "- CPU: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores"
echo "- Kernel: $(uname -sr); $versions"
echo "- nomadctx $("$bin" --version | cut -d' ' -f2), release build: $(stat -c %s "$bin") bytes (glibc, dynamic); static musl build: $(stat -c %s "$static") bytes"
echo "- Dependencies: $NOMADCTX_BENCH_CRATES"

export NOMADCTX_CONFIG_DIR=$work/cfg-ss NOMADCTX_CONTEXT=prod
# Fail here, with nomadctx's message, rather than inside hyperfine.
"$bin" use prod --shell bash >/dev/null
NOMADCTX_CONFIG_DIR=$work/cfg-keyutils "$bin" use prod --shell bash >/dev/null
NOMADCTX_CONFIG_DIR=$work/cfg-file "$bin" use prod --shell bash >/dev/null </dev/null
table "Every prompt: no keychain" \
  -n true true \
  -n "nomadctx current" "$bin current" \
  -n "nomadctx list --names" "$bin list --names" \
  -n "nomadctx current (static)" "$static current" \
  -n "nomadctx list --names (static)" "$static list --names"
NOMADCTX_COMPLETE=fish table "TAB: one completion call (fish protocol), config only" \
  -n true true \
  -n "complete 'nomadctx use p'" "$bin -- nomadctx use p" \
  -n "complete 'nomadctx use p' (static)" "$static -- nomadctx use p"
unset NOMADCTX_CONTEXT

# One table per keychain, each with its own NOMADCTX_CONFIG_DIR exported, so that every row
# is one nomadctx process against the same floor, `env true` (two processes, as
# `nomadctx exec prod -- true` is).
switching() { # TITLE CONFIG [VAR=VALUE]
  (
  export NOMADCTX_CONFIG_DIR=$2 ${3:+"$3"}
  table "Switching: $1" \
    -n true true \
    -n "env true (the floor for exec)" "env true" \
    -n "nomadctx use prod" "$bin use prod --shell bash" \
    -n "nomadctx exec prod -- true" "$bin exec prod -- true" \
    -n "nomadctx use prod (static)" "$static use prod --shell bash" \
    -n "nomadctx exec prod -- true (static)" "$static exec prod -- true"
  ) || exit 1
}
switching "Secret Service (GNOME Keyring, DH session)" "$work/cfg-ss"
switching "Secret Service (GNOME Keyring, plain session: the opt-in)" "$work/cfg-ss" NOMADCTX_SECRET_SERVICE_SESSION=plain
switching "Secret Service, a context with an ACL token too" "$work/cfg-token"
switching "kernel keyring (keyutils)" "$work/cfg-keyutils"
switching "file store, unlocked" "$work/cfg-file"

table "The same job done today" \
  -n "nomadctx exec prod -- true" "$bin exec prod -- true" \
  -n "nomadctx exec prod -- true (static)" "$static exec prod -- true" \
  -n "direnv exec DIR true (four exports in .envrc)" "direnv exec $work/envrc true" \
  -n "secret-tool lookup into a temp file, then exec true" "$work/with-secret-tool true"

table "Growth with the number of contexts" \
  -n "list, 1 context" "env NOMADCTX_CONFIG_DIR=$work/cfg-1 $bin list" \
  -n "list, 100 contexts" "env NOMADCTX_CONFIG_DIR=$work/cfg-100 $bin list" \
  -n "list, 1000 contexts" "env NOMADCTX_CONFIG_DIR=$work/cfg-1000 $bin list" \
  -n "use prod, 1 context" "env NOMADCTX_CONFIG_DIR=$work/cfg-1 $bin use prod --shell bash" \
  -n "use prod, 100 contexts" "env NOMADCTX_CONFIG_DIR=$work/cfg-100 $bin use prod --shell bash" \
  -n "use prod, 1000 contexts" "env NOMADCTX_CONFIG_DIR=$work/cfg-1000 $bin use prod --shell bash"
