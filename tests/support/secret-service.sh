# A private Secret Service for scripts (sourced by benches/run.sh and .ci/run; the Rust test
# harness does the same in tests/it/harness/mod.rs).
#
# start_secret_service DIR PASSWORD: starts a D-Bus session bus with its socket in DIR and an
# unlocked gnome-keyring-daemon on it (its files under DIR), exports DBUS_SESSION_BUS_ADDRESS,
# and returns once the default collection stores, returns and deletes an item (the login
# keyring's file appears before the collection is unlocked and made the default, and a client
# in that window gets "prompt dismissed"). The bus starts no service on demand: with the
# system's session.conf, a client that asks for the Secret Service before our daemon owns the
# name makes the bus start a second gnome-keyring-daemon without the password, whose login
# collection stays locked. stop_secret_service stops both daemons.
start_secret_service() {
  local dir=$1 password=$2 ready='' _
  mkdir -p -m 700 "$dir/home" "$dir/run"
  cat > "$dir/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=$dir</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF
  dbus-daemon --nofork --print-address=1 --config-file="$dir/bus.conf" > "$dir/bus" 2>/dev/null &
  secret_service_pids=$!
  for _ in $(seq 1000); do [ -s "$dir/bus" ] && break; sleep 0.01; done
  DBUS_SESSION_BUS_ADDRESS=$(head -1 "$dir/bus")
  export DBUS_SESSION_BUS_ADDRESS
  printf %s "$password" | HOME=$dir/home XDG_RUNTIME_DIR=$dir/run \
    gnome-keyring-daemon --unlock --components=secrets --foreground >/dev/null 2>&1 &
  secret_service_pids+=" $!"
  for _ in $(seq 600); do
    if printf ready | secret-tool store --label=probe nomadctx-probe ready 2>/dev/null &&
      [ "$(secret-tool lookup nomadctx-probe ready 2>/dev/null)" = ready ]; then
      secret-tool clear nomadctx-probe ready
      ready=1
      break
    fi
    sleep 0.1
  done
  [ -n "$ready" ] || { echo "the Secret Service in $dir did not answer within 60 s" >&2; return 1; }
}

stop_secret_service() {
  # shellcheck disable=SC2086 # a list of pids
  kill $secret_service_pids 2>/dev/null || true
  # shellcheck disable=SC2086
  wait $secret_service_pids 2>/dev/null || true
}
