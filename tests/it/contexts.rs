//! Contexts round-trip through the config and a real Secret Service: add, list, show,
//! set, rename, remove, default, current.

use crate::harness::{OutputExt, World, add_with, exec_cat_key, key_der, pki, show_json, squash};

/// What `list --names` prints.
fn context_names(world: &World) -> String {
    world
        .cmd()
        .args(["list", "--names"])
        .succeeds()
        .stdout_text()
}

#[test]
fn add_puts_the_key_in_the_secret_service_and_nowhere_on_disk() {
    let world = World::new();
    let id = pki().identity("ec");
    add_with(&world, "prod", &id, &[]).stderr_has("added context \"prod\"");

    let stored = world
        .secret("prod/client-key")
        .expect("key in the Secret Service");
    let key_pem = id.key_pem();
    let der_in_pem = key_der(&id.key);
    assert_eq!(stored, der_in_pem, "the keychain holds the key as DER");
    assert_eq!(world.keychain_accounts(), ["prod/client-key"]);
    assert!(
        world.files_containing(&stored[..32]).is_empty(),
        "key bytes on disk"
    );
    assert!(
        world.files_containing(&squash(&key_pem)[30..90]).is_empty(),
        "key PEM on disk"
    );

    let config = std::fs::read_to_string(world.config_dir.join("config.toml")).unwrap();
    assert!(
        config.contains("[contexts.prod]") && config.contains("client_version = "),
        "{config}"
    );
    let ca_copy = std::fs::read(world.cert_file("prod", "ca")).unwrap();
    assert_eq!(squash(&ca_copy), squash(&std::fs::read(&id.ca).unwrap()));
}

#[test]
fn list_and_show_never_print_secrets() {
    let world = World::new();
    let id = pki().identity("ec");
    add_with(
        &world,
        "prod",
        &id,
        &["--region", "eu", "--namespace", "web"],
    );
    world
        .cmd()
        .args(["set", "prod", "--token-stdin"])
        .stdin("tok-3c4f9e2a-secret\n")
        .succeeds();
    world
        .cmd()
        .args(["add", "dev", "--address", "http://127.0.0.1:4646"])
        .succeeds();

    let table = world.cmd().arg("list").succeeds();
    table
        .stdout_has("NAME")
        .stdout_has("prod")
        .stdout_has("https://127.0.0.1:4646")
        .stdout_has("eu")
        .stdout_has("web");
    assert_eq!(context_names(&world), "dev\nprod\n");

    let json: serde_json::Value =
        serde_json::from_slice(&world.cmd().args(["list", "--json"]).succeeds().stdout).unwrap();
    assert_eq!(json[1]["name"], "prod");
    assert_eq!(json[1]["token"], true);

    let show = world.cmd().args(["show", "prod"]).succeeds();
    let token_line = show
        .stdout_text()
        .lines()
        .find(|l| l.starts_with("acl token"))
        .unwrap()
        .to_owned();
    let account = world.live_account("prod/token").unwrap();
    // One clause, not parenthesised groups in a row.
    assert_eq!(
        token_line.split_whitespace().collect::<Vec<_>>().join(" "),
        format!("acl token stored in the Secret Service as item nomadctx/{account}")
    );
    let shown = show_json(&world, "prod");
    assert_eq!(shown["client_key_stored"], true);
    assert_eq!(shown["token_stored"], true);

    let stored_key = world.secret("prod/client-key").unwrap();
    for args in [
        &["list"][..],
        &["list", "--json"],
        &["show", "prod"],
        &["show", "prod", "--json"],
    ] {
        let out = world.cmd().args(args).succeeds();
        let all = [out.stdout.clone(), out.stderr.clone()].concat();
        assert!(
            !String::from_utf8_lossy(&all).contains("tok-3c4f9e2a-secret"),
            "{args:?} printed the token"
        );
        assert!(
            !all.windows(16).any(|w| w == &stored_key[8..24]),
            "{args:?} printed key bytes"
        );
    }
}

#[test]
fn show_reports_a_key_lost_from_the_keychain() {
    let world = World::new();
    add_with(&world, "prod", &pki().identity("ec"), &[]);
    let account = world.live_account("prod/client-key").unwrap();
    world
        .program("secret-tool")
        .args(["clear", "service", "nomadctx", "username", &account])
        .succeeds();
    world
        .cmd()
        .args(["show", "prod"])
        .succeeds()
        .stdout_has("MISSING");
    world
        .cmd()
        .args(["exec", "prod", "--", "true"])
        .fails()
        .stderr_has("client key of context \"prod\" is missing from the Secret Service")
        .stderr_has("nomadctx set prod");
}

#[test]
fn rename_moves_keychain_items_and_certificates() {
    let world = World::new();
    add_with(&world, "prod", &pki().identity("ec"), &[]);
    world
        .cmd()
        .args(["set", "prod", "--token-stdin"])
        .stdin("tok-1")
        .succeeds();
    world.cmd().args(["default", "prod"]).succeeds();
    let key = world.secret("prod/client-key").unwrap();

    world.cmd().args(["rename", "prod", "prod-eu"]).succeeds();
    assert_eq!(
        world.keychain_accounts(),
        ["prod-eu/client-key", "prod-eu/token"]
    );
    assert_eq!(world.secret("prod-eu/client-key").unwrap(), key);
    assert!(world.cert_file("prod-eu", "client").exists());
    assert_eq!(
        world.cmd().arg("default").succeeds().stdout_text(),
        "prod-eu\n"
    );
    world
        .cmd()
        .args(["rename", "nope", "x"])
        .fails()
        .stderr_has("no context named \"nope\"");
}

#[test]
fn remove_takes_keychain_items_and_files_with_it() {
    let world = World::new();
    let id = pki().identity("ec");
    add_with(&world, "a", &id, &[]);
    add_with(&world, "b", &id, &[]);
    world
        .cmd()
        .args(["set", "a", "--token-stdin"])
        .stdin("tok-a")
        .succeeds();

    // One unknown name: nothing at all is removed.
    let before = world.snapshot();
    world
        .cmd()
        .args(["remove", "a", "zzz"])
        .fails()
        .stderr_has("zzz")
        .stderr_has("nothing was removed");
    assert_eq!(world.snapshot(), before);

    world.cmd().args(["remove", "a", "b"]).succeeds();
    assert!(
        world.keychain_accounts().is_empty(),
        "{:?}",
        world.keychain_accounts()
    );
    assert_eq!(
        std::fs::read_dir(world.config_dir.join("certs"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(context_names(&world), "");
}

#[test]
fn set_replaces_certificate_and_key_together_and_clears_fields() {
    let world = World::new();
    add_with(&world, "prod", &pki().identity("ec"), &["--region", "eu"]);
    let rsa = pki().identity("rsa");
    world
        .cmd()
        .args(["set", "prod", "--cert"])
        .arg(&rsa.cert)
        .args(["--key"])
        .arg(&rsa.key)
        .succeeds();
    let key = world.secret("prod/client-key").unwrap();
    assert!(
        key.len() > 2000,
        "an RSA-4096 key is stored as DER ({} bytes)",
        key.len()
    );
    world.cmd().args(["set", "prod", "--region", ""]).succeeds();
    let json = show_json(&world, "prod");
    assert!(json.get("region").is_none(), "{json}");

    world
        .cmd()
        .args(["set", "prod", "--token-stdin"])
        .stdin("tok")
        .succeeds();
    assert!(world.secret("prod/token").is_some());
    world
        .cmd()
        .args(["set", "prod", "--clear-token"])
        .succeeds();
    assert!(world.secret("prod/token").is_none());
    world
        .cmd()
        .args(["set", "prod", "--cert"])
        .arg(&rsa.cert)
        .fails()
        .stderr_has("--key");
}

#[test]
fn add_refuses_an_existing_name_unless_forced() {
    let world = World::new();
    let id = pki().identity("ec");
    add_with(&world, "prod", &id, &[]);
    let before = world.snapshot();
    world
        .cmd()
        .args(["add", "prod", "--address", "https://other:4646"])
        .fails()
        .stderr_has("context \"prod\" already exists")
        .stderr_has("--force");
    assert_eq!(world.snapshot(), before);
    world
        .cmd()
        .args(["add", "prod", "--address", "https://other:4646", "--force"])
        .succeeds();
    assert!(
        world.keychain_accounts().is_empty(),
        "the replaced context's key is gone"
    );
}

#[test]
fn current_follows_flag_environment_and_default() {
    let world = World::new();
    world
        .cmd()
        .args(["add", "a", "--address", "https://a:4646"])
        .succeeds();
    world
        .cmd()
        .args(["add", "b", "--address", "https://b:4646"])
        .succeeds();
    world
        .cmd()
        .arg("current")
        .fails()
        .stderr_has("none is current")
        .stderr_has("known contexts: a, b");
    world.cmd().args(["default", "a"]).succeeds();
    assert_eq!(world.cmd().arg("current").succeeds().stdout_text(), "a\n");
    let with_env = world
        .cmd()
        .arg("current")
        .env("NOMADCTX_CONTEXT", "b")
        .succeeds();
    assert_eq!(with_env.stdout_text(), "b\n");
    let flag = world
        .cmd()
        .args(["--context", "a", "current"])
        .env("NOMADCTX_CONTEXT", "b")
        .succeeds();
    assert_eq!(flag.stdout_text(), "a\n");
    world
        .cmd()
        .arg("current")
        .env("NOMADCTX_CONTEXT", "gone")
        .fails()
        .stderr_has("NOMADCTX_CONTEXT");
    let table = world
        .cmd()
        .args(["list"])
        .env("NOMADCTX_CONTEXT", "b")
        .succeeds()
        .stdout_text();
    let marked: Vec<&str> = table.lines().filter(|l| l.starts_with('*')).collect();
    assert!(marked.len() == 1 && marked[0].contains(" b "), "{table}");
    world.cmd().args(["default", "--clear"]).succeeds();
    world
        .cmd()
        .arg("default")
        .fails()
        .stderr_has("no default context");
}

#[test]
fn rsa_4096_and_ec_p256_keys_both_work() {
    let world = World::new();
    for (name, kind) in [("rsa", "rsa"), ("ec", "ec")] {
        let id = pki().identity(kind);
        add_with(&world, name, &id, &[]);
        let read = exec_cat_key(world.cmd(), name).succeeds();
        assert_eq!(
            squash(&read.stdout),
            squash(&id.key_pem()),
            "{kind} key read back through exec"
        );
    }
}

#[test]
fn keyutils_backend_when_asked_for() {
    crate::harness::require_tool("keyctl");
    let world = World::new();
    let id = pki().identity("ec");
    // One kernel session keyring for the whole story, as a login session would have, in
    // a user namespace so that the user's own persistent keyring is out of reach.
    let script = format!(
        "set -e
nomadctx add ku --address https://127.0.0.1:4646 --cert '{}' --key '{}'
nomadctx exec ku -- sh -c 'cat \"$NOMAD_CLIENT_KEY\"'
keyctl show \"$(keyctl get_persistent @s)\" | grep -c '/client-key/' >&2
nomadctx remove ku",
        id.cert.display(),
        id.key.display()
    );
    let out = world
        .in_private_keyrings("bash")
        .args(["-c", &script])
        .env("NOMADCTX_KEYCHAIN", "keyutils")
        .succeeds();
    assert_eq!(squash(&out.stdout), squash(&id.key_pem()));
    assert!(
        world.keychain_accounts().is_empty(),
        "nothing went to the Secret Service"
    );
}

/// A config write that fails after the keychain changed must put the keychain back.
#[test]
fn a_failed_config_write_undoes_keychain_and_file_changes() {
    let world = World::new();
    let ec = pki().identity("ec");
    let rsa = pki().identity("rsa");
    let fail = |args: &[&str], stdin: &str| {
        world
            .cmd()
            .args(args)
            .stdin(stdin)
            .env("NOMADCTX_FAILPOINT", "save-config")
            .fails()
            .stderr_has("save-config");
    };
    let add = [
        "add",
        "prod",
        "--address",
        "https://127.0.0.1:4646",
        "--ca",
        ec.ca.to_str().unwrap(),
        "--cert",
        ec.cert.to_str().unwrap(),
        "--key",
        ec.key.to_str().unwrap(),
        "--token-stdin",
    ];
    fail(&add, "tok-1");
    assert!(
        world.keychain_accounts().is_empty(),
        "{:?}",
        world.keychain_accounts()
    );
    assert!(
        !world.config_dir.join("certs").exists()
            || std::fs::read_dir(world.config_dir.join("certs"))
                .unwrap()
                .count()
                == 0
    );

    world.cmd().args(add).stdin("tok-1").succeeds();
    let before = world.snapshot();
    let key_before = world.secret("prod/client-key").unwrap();
    fail(
        &[
            "set",
            "prod",
            "--cert",
            rsa.cert.to_str().unwrap(),
            "--key",
            rsa.key.to_str().unwrap(),
            "--token-stdin",
        ],
        "tok-2",
    );
    assert_eq!(world.snapshot(), before);
    assert_eq!(world.secret("prod/client-key").unwrap(), key_before);
    assert_eq!(world.secret("prod/token").unwrap(), b"tok-1");

    fail(&["remove", "prod"], "");
    fail(&["rename", "prod", "prod2"], "");
    assert_eq!(world.snapshot(), before);
    assert_eq!(world.secret("prod/client-key").unwrap(), key_before);
}
