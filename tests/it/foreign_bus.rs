//! A session bus that another account runs gets nothing: neither through a stale abstract
//! address it took over, nor through another account's runtime directory that `su` left in
//! XDG_RUNTIME_DIR. The second account runs its own bus and GNOME Keyring, open to all, and
//! afterwards holds no nomadctx item.

use std::os::unix::fs::PermissionsExt;

use crate::harness::{
    KernelSession, OtherAccount, OutputExt, World, add_args, add_cmd, pki, require_tool,
};

const TOKEN: &str = "9d2c4e1a-77b0-4f3e-a5c6-1e0b8d7f6a53";

/// What the second account's Secret Service holds of nomadctx's, asked only once it has
/// shown that it still answers (a dead bus would hold nothing and prove nothing).
fn nomadctx_items(other: &OtherAccount, address: &str) -> String {
    let alive = other.secret_tool(address, &["search", "--all", "nomadctx-test", "alive"]);
    assert!(
        !alive.contains("secret-tool:"),
        "the second account's Secret Service no longer answers: {alive}"
    );
    other.secret_tool(address, &["search", "--all", "service", "nomadctx"])
}

#[test]
fn a_stale_abstract_bus_address_taken_over_by_another_account_gets_nothing() {
    require_tool("secret-tool");
    let world = World::without_keychain();
    let other = OtherAccount::new();
    // An abstract name, as dbus before 1.14.4 gave dbus-run-session's buses: once that
    // session ended, any account could bind it.
    let listen = format!("unix:abstract={}/stale-bus", world.tmp.path().display());
    let address = other.serve_secret_service(&listen);
    let id = pki().identity("ec");

    let out = add_cmd(&world, "staging", &id)
        .env("DBUS_SESSION_BUS_ADDRESS", &address)
        .fails();
    out.stderr_has(&format!("belongs to user id {}", other.uid()))
        .stderr_has("(from DBUS_SESSION_BUS_ADDRESS)")
        .stderr_has("nothing was sent")
        .stderr_has("unset DBUS_SESSION_BUS_ADDRESS");
    let names = world.cmd().args(["list", "--names"]).output().stdout_text();
    assert!(!names.contains("staging"), "a context was added: {names}");
    let items = nomadctx_items(&other, &address);
    assert!(
        !items.contains("nomadctx"),
        "the second account's keyring holds nomadctx items:\n{items}"
    );
}

#[test]
fn a_token_and_a_migration_never_reach_another_account_s_bus() {
    require_tool("secret-tool");
    let world = World::new();
    let keys = KernelSession::new();
    let other = OtherAccount::new();
    let listen = format!("unix:abstract={}/stale-bus", world.tmp.path().display());
    let address = other.serve_secret_service(&listen);
    add_args(keys.cmd(&world), "prod", &pki().identity("ec")).succeeds();
    // In the kernel session's user namespace the second account is the overflow id: the
    // message names whom the kernel names.
    keys.cmd(&world)
        .args(["set", "prod", "--token-stdin"])
        .env("DBUS_SESSION_BUS_ADDRESS", &address)
        .stdin(TOKEN)
        .fails()
        .stderr_has("nothing was sent")
        .stderr_has("belongs to user id");

    // The secrets move to the file store over the user's own bus, then are asked to move back
    // over the stale address.
    let passphrase = world.home.join("passphrase");
    std::fs::write(&passphrase, "correct horse battery staple\n").unwrap();
    std::fs::set_permissions(&passphrase, std::fs::Permissions::from_mode(0o600)).unwrap();
    keys.cmd(&world)
        .args(["keychain", "use", "file", "--migrate", "--passphrase-stdin"])
        .stdin("correct horse battery staple\n")
        .succeeds();
    keys.cmd(&world)
        .args(["keychain", "use", "secret-service", "--migrate"])
        .env("DBUS_SESSION_BUS_ADDRESS", &address)
        .env("NOMADCTX_PASSPHRASE_FILE", &passphrase)
        .fails()
        .stderr_has("nothing was sent");

    let items = nomadctx_items(&other, &address);
    assert!(
        !items.contains("nomadctx"),
        "the second account's keyring holds nomadctx items:\n{items}"
    );
    // The key is still in the file store, and still opens.
    keys.cmd(&world)
        .args([
            "exec",
            "prod",
            "--",
            "sh",
            "-c",
            "test -s \"$NOMAD_CLIENT_KEY\"",
        ])
        .env("NOMADCTX_PASSPHRASE_FILE", &passphrase)
        .succeeds();
}

#[test]
fn another_account_s_runtime_dir_is_not_a_bus_to_trust() {
    require_tool("secret-tool");
    let world = World::without_keychain();
    let other = OtherAccount::new();
    // The second account makes its runtime dir traversable and serves a bus in it; the user,
    // after `su` from that account's session, still has XDG_RUNTIME_DIR pointing there.
    let run_dir = other.home.join("run");
    let made = other
        .command("sh")
        .arg("-c")
        .arg(format!(
            "chmod 711 \"$HOME\" && mkdir -m 711 '{}'",
            run_dir.display()
        ))
        .status()
        .unwrap();
    assert!(
        made.success(),
        "the second account could not make {run_dir:?}"
    );
    let address = other.serve_secret_service(&format!("unix:path={}/bus", run_dir.display()));
    let id = pki().identity("rsa");

    add_cmd(&world, "staging", &id)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("XDG_RUNTIME_DIR", &run_dir)
        .fails()
        .stderr_has(&format!("belongs to user id {}", other.uid()))
        .stderr_has("(from XDG_RUNTIME_DIR/bus)")
        .stderr_has("su -");

    let items = nomadctx_items(&other, &address);
    assert!(
        !items.contains("nomadctx"),
        "the second account's keyring holds nomadctx items:\n{items}"
    );
}
