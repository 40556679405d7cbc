# KeePassXC (2.7.x) as a headless Secret Service on the caller's private D-Bus session bus
# (DBUS_SESSION_BUS_ADDRESS: the test world's), for tests/it/keepassxc.rs: a second
# implementation beside gnome-keyring.
#
# start_keepassxc DIR PASSWORD: makes a database whose root group is exposed to the Secret
# Service, runs KeePassXC on it unlocked with Qt's offscreen platform (no X), and returns 0 once
# the default collection is unlocked and stores, returns and deletes an item. Everything (HOME,
# XDG_*, TMPDIR, which holds KeePassXC's lock file, logs) stays under DIR. stop_keepassxc stops
# it. One instance per shell.
#
# KeePassXC 2.7.4 limitation (upstream #9255, fixed in 2.7.6): CreateItem with replace over an
# item another D-Bus connection created opens an Access Request dialog that nobody answers here,
# so that call never completes. Reads, searches, deletes and new items are not affected.
#
# Needs keepassxc, keepassxc-cli, dbus-send, secret-tool, awk, base64, od.

_kpx_log() { printf 'kpx: %s\n' "$*" >&2; }

_kpx_env() {
  env HOME="$kpx_dir/home" XDG_CONFIG_HOME="$kpx_dir/config" XDG_DATA_HOME="$kpx_dir/data" \
    XDG_CACHE_HOME="$kpx_dir/cache" XDG_RUNTIME_DIR="$kpx_dir/run" TMPDIR="$kpx_dir/tmp" "$@"
}

# A fresh database exposes no group to the Secret Service (so no collection at all): export it,
# add FDO_SECRETS_EXPOSED_GROUP = the root group's uuid to <Meta>, import it again. 100 ms is the
# smallest key derivation time keepassxc-cli accepts.
_kpx_make_db() { # DB PASSWORD
  local db=$1 password=$2 xml=$kpx_dir/db/template.xml b64 hex uuid
  printf '%s\n%s\n' "$password" "$password" |
    _kpx_env keepassxc-cli db-create -q -p -t 100 "$db.tmp.kdbx" >>"$kpx_dir/cli.log" 2>&1 &&
    printf '%s\n' "$password" |
    _kpx_env keepassxc-cli export -q -f xml "$db.tmp.kdbx" >"$xml" 2>>"$kpx_dir/cli.log" ||
    { _kpx_log "keepassxc-cli could not make a database (see $kpx_dir/cli.log)"; return 1; }
  rm -f "$db.tmp.kdbx"
  # The first <UUID> after <Root> is the root group's, base64; KeePassXC wants {8-4-4-4-12} hex.
  b64=$(awk '/<Root>/ {r = 1} r && match($0, /<UUID>[^<]*<\/UUID>/) {print substr($0, RSTART + 6, RLENGTH - 13); exit}' "$xml")
  hex=$(printf '%s' "$b64" | base64 -d | od -An -tx1 | tr -d ' \n')
  [ ${#hex} -eq 32 ] || { _kpx_log "no root group uuid in the exported database"; return 1; }
  uuid="{${hex:0:8}-${hex:8:4}-${hex:12:4}-${hex:16:4}-${hex:20:12}}"
  sed -i \
    -e 's:<DatabaseName/>:<DatabaseName>kpx-test</DatabaseName>:' \
    -e "s:</Meta>:<CustomData><Item><Key>FDO_SECRETS_EXPOSED_GROUP</Key><Value>$uuid</Value></Item></CustomData></Meta>:" \
    "$xml"
  printf '%s\n%s\n' "$password" "$password" |
    _kpx_env keepassxc-cli import -q -p -t 100 "$xml" "$db" >>"$kpx_dir/cli.log" 2>&1 ||
    { _kpx_log "keepassxc-cli import failed (see $kpx_dir/cli.log)"; return 1; }
  rm -f "$xml"
}

# Secret Service on, every confirmation and notification off, nothing remembered or locked.
_kpx_write_config() {
  mkdir -p "$kpx_dir/config/keepassxc"
  cat >"$kpx_dir/config/keepassxc/keepassxc.ini" <<'INI'
[General]
ConfigVersion=2
SingleInstance=false
RememberLastDatabases=false
RememberLastKeyFiles=false
OpenPreviousDatabasesOnStartup=false
AutoSaveAfterEveryChange=true
AutoReloadOnChange=false
UpdateCheckMessageShown=true

[GUI]
CheckForUpdates=false
ShowTrayIcon=false
ShowExpiredEntriesOnDatabaseUnlock=false

[Security]
LockDatabaseIdle=false
LockDatabaseScreenLock=false
ClearClipboard=false

[FdoSecrets]
Enabled=true
ShowNotification=false
ConfirmDeleteItem=false
ConfirmAccessItem=false
UnlockBeforeSearch=false
INI
}

# The default collection, once it is there and unlocked. Before that, a write makes KeePassXC
# open an unlock (or new-database) dialog that nobody answers headless.
_kpx_unlocked_collection() {
  local collection
  collection=$(dbus-send --session --print-reply --dest=org.freedesktop.secrets /org/freedesktop/secrets \
    org.freedesktop.Secret.Service.ReadAlias string:default 2>/dev/null |
    sed -n 's:.*object path "\(/org/freedesktop/secrets/collection/[^"]*\)".*:\1:p')
  [ -n "$collection" ] &&
    dbus-send --session --print-reply --dest=org.freedesktop.secrets "$collection" \
      org.freedesktop.DBus.Properties.Get string:org.freedesktop.Secret.Collection string:Locked 2>/dev/null |
    grep -q 'boolean false'
}

# One new probe item per attempt: storing over an earlier one would be a replace (see above).
_kpx_probe() { # ATTEMPT
  local probe=probe-$$-$1 out
  printf ok | timeout 5 secret-tool store --label=kpx-probe kpx-probe "$probe" 2>/dev/null &&
    out=$(timeout 5 secret-tool lookup kpx-probe "$probe" 2>/dev/null) && [ "$out" = ok ] &&
    timeout 5 secret-tool clear kpx-probe "$probe" 2>/dev/null
}

start_keepassxc() {
  local dir=${1:?usage: start_keepassxc DIR PASSWORD} password=${2:?usage: start_keepassxc DIR PASSWORD}
  local start=$SECONDS attempt=0
  [ -n "${DBUS_SESSION_BUS_ADDRESS:-}" ] || { _kpx_log "no DBUS_SESSION_BUS_ADDRESS to serve on"; return 1; }
  mkdir -p "$dir" && kpx_dir=$(cd "$dir" && pwd) || return 1
  mkdir -p "$kpx_dir"/{home,config,data,cache,run,tmp,db}
  chmod 700 "$kpx_dir/run"
  _kpx_write_config

  _kpx_make_db "$kpx_dir/db/kpx.kdbx" "$password" || { stop_keepassxc; return 1; }
  # exec, so that $! is KeePassXC itself.
  (exec env HOME="$kpx_dir/home" XDG_CONFIG_HOME="$kpx_dir/config" XDG_DATA_HOME="$kpx_dir/data" \
    XDG_CACHE_HOME="$kpx_dir/cache" XDG_RUNTIME_DIR="$kpx_dir/run" TMPDIR="$kpx_dir/tmp" \
    DISPLAY= WAYLAND_DISPLAY= QT_QPA_PLATFORM=offscreen \
    keepassxc --config "$kpx_dir/config/keepassxc/keepassxc.ini" \
    --localconfig "$kpx_dir/cache/keepassxc/keepassxc.ini" \
    --pw-stdin "$kpx_dir/db/kpx.kdbx") <<<"$password" >"$kpx_dir/keepassxc.log" 2>&1 &
  kpx_pid=$!

  until _kpx_unlocked_collection && _kpx_probe $((attempt += 1)); do
    if ! kill -0 "$kpx_pid" 2>/dev/null; then
      _kpx_log "keepassxc exited:"
      cat "$kpx_dir/keepassxc.log" >&2
      stop_keepassxc
      return 1
    fi
    if [ $((SECONDS - start)) -ge 60 ]; then
      _kpx_log "KeePassXC did not serve an unlocked default collection within 60 s"
      stop_keepassxc
      return 1
    fi
    sleep 0.1
  done
  _kpx_log "ready after $((SECONDS - start)) s on $DBUS_SESSION_BUS_ADDRESS"
}

_kpx_stop_pid() { # PID GRACE_SECONDS NAME
  local pid=$1 _
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq $(($2 * 10))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    _kpx_log "$3 (pid $pid) ignored SIGTERM for $2 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

stop_keepassxc() {
  # KeePassXC 2.7.4 gives up quitting for good when SIGTERM arrives during an auto-save (about
  # 0.05-0.3 s after each change): let it settle first, and SIGKILL it if it still stays (every
  # change is on disk by then; saves are atomic).
  if [ -n "${kpx_pid:-}" ] && kill -0 "$kpx_pid" 2>/dev/null; then sleep 0.8; fi
  _kpx_stop_pid "${kpx_pid:-}" 3 keepassxc
  unset kpx_pid
}
