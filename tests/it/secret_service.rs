//! nomadctx's own Secret Service client against gnome-keyring, watched on the bus with
//! dbus-monitor: secrets cross it encrypted (the DH session), `exec` asks for key and token in
//! one request, and `plain` is an opt-in that really is plain.

use std::path::Path;

use crate::harness::{
    Monitor, OutputExt, World, add_with, assert_encrypted, contains, count, exec_sees, key_der,
    pki, require_tool,
};

const TOKEN: &str = "4a1f3c2e-9b7d-4e61-8f0a-5c3d2b1e0f9a";

fn with_key_and_token() -> (World, Vec<u8>) {
    let world = World::new();
    let id = pki().identity("ec");
    add_with(&world, "prod", &id, &[]);
    world
        .cmd()
        .args(["set", "prod", "--token-stdin"])
        .stdin(TOKEN)
        .succeeds();
    let key = key_der(Path::new(&id.key));
    (world, key)
}

#[test]
fn secrets_cross_the_bus_encrypted_and_exec_reads_both_in_one_request() {
    let (world, key) = with_key_and_token();
    let monitor = Monitor::start(&world, "exec");
    assert_eq!(exec_sees(world.cmd(), "prod", "NOMAD_TOKEN"), TOKEN);
    let seen = monitor.stop();
    assert_encrypted(&seen, &key, TOKEN);
    // One session, one search per item, one GetSecrets for both.
    assert_eq!(count(&seen, b"OpenSession"), 1);
    assert_eq!(count(&seen, b"SearchItems"), 2);
    assert_eq!(count(&seen, b"GetSecrets"), 1);

    // Writes are encrypted too.
    let monitor = Monitor::start(&world, "set");
    world
        .cmd()
        .args(["set", "prod", "--token-stdin"])
        .stdin(format!("{TOKEN}-2"))
        .succeeds();
    let seen = monitor.stop();
    assert!(contains(&seen, b"CreateItem"));
    // TOKEN is the start of the new token: its absence covers both.
    assert_encrypted(&seen, &key, TOKEN);
}

#[test]
fn the_plain_session_is_an_opt_in_and_is_plain() {
    let (world, key) = with_key_and_token();
    let monitor = Monitor::start(&world, "plain");
    let plain = world.cmd().env("NOMADCTX_SECRET_SERVICE_SESSION", "plain");
    assert_eq!(exec_sees(plain, "prod", "NOMAD_TOKEN"), TOKEN);
    let seen = monitor.stop();
    // What the monitor sees is what a plain session shows: so the test above can see it too.
    assert!(contains(&seen, TOKEN.as_bytes()));
    assert!(contains(&seen, &key));
    assert!(!contains(&seen, b"dh-ietf1024"));

    world
        .cmd()
        .env("NOMADCTX_SECRET_SERVICE_SESSION", "none")
        .args(["exec", "prod", "--", "true"])
        .fails()
        .stderr_has("NOMADCTX_SECRET_SERVICE_SESSION=\"none\" is not a session nomadctx knows");
}

#[test]
fn items_are_what_other_secret_service_clients_read() {
    // secret-tool (libsecret, with a session of its own) reads what we wrote, and we read
    // what it wrote: our items are the ones other clients know.
    let (world, key) = with_key_and_token();
    assert_eq!(world.secret("prod/client-key").unwrap(), key);
    assert_eq!(world.secret("prod/token").unwrap(), TOKEN.as_bytes());
    let account = world.live_account("prod/token").unwrap();
    world
        .program(require_tool("secret-tool"))
        .args([
            "store",
            "--label=by secret-tool",
            "service",
            "nomadctx",
            "username",
        ])
        .arg(&account)
        .stdin("from-secret-tool")
        .succeeds();
    assert_eq!(
        exec_sees(world.cmd(), "prod", "NOMAD_TOKEN"),
        "from-secret-tool"
    );
}

#[test]
fn a_context_without_key_or_token_needs_no_keychain() {
    // On a host with no D-Bus at all, a context that holds no secret still works: reading
    // its (no) secrets never opens the Secret Service.
    let world = World::headless();
    world
        .cmd()
        .args(["add", "dev", "--address", "http://127.0.0.1:4646"])
        .succeeds();
    assert_eq!(
        exec_sees(world.cmd(), "dev", "NOMAD_ADDR"),
        "http://127.0.0.1:4646"
    );
    world
        .cmd()
        .args(["use", "dev", "--shell", "bash"])
        .succeeds()
        .stdout_has("NOMAD_ADDR");
}

#[test]
fn a_locked_keychain_without_a_display_says_how_to_unlock_it() {
    let world = World::new();
    // On a session with no display for the unlock prompt (ssh).
    lock_the_login_collection(&world);
    let out = crate::harness::add_cmd(&world, "prod", &pki().identity("ec"))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .fails();
    out.stderr_has("the keychain is locked, and its unlock prompt needs a display")
        .stderr_has("gnome-keyring-daemon --replace --unlock");
}

#[test]
fn a_move_out_of_a_locked_keychain_says_so_before_asking_for_a_passphrase() {
    let world = World::new();
    let keys = crate::harness::KernelSession::new();
    add_with(&world, "prod", &pki().identity("ec"), &[]);
    lock_the_login_collection(&world);
    let out = keys
        .cmd(&world)
        .args(["keychain", "use", "file", "--migrate"])
        .env_remove("DISPLAY")
        .fails();
    out.stderr_has("the keychain is locked");
    assert!(
        !out.stderr_text().contains("passphrase"),
        "asked for a passphrase first: {}",
        out.stderr_text()
    );
}

/// Locks GNOME Keyring's login collection, as after a login without its PAM module.
fn lock_the_login_collection(world: &World) {
    world
        .program("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service.Lock",
            "array:objpath:/org/freedesktop/secrets/collection/login",
        ])
        .succeeds();
}
