//! Keys are never lost or swapped: each configuration's items carry its store id and each
//! context's id, changes write beside the live items, and the first run of this version
//! moves an installation of the layout before ids without losing anything.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{
    Identity, OutputExt, World, add_cmd, doctor_is_happy, exec_cat_key, first_line, key_der,
    kill_at_step, pki, squash, store_foreign_item,
};

/// The key `exec` hands to a command of context `name`, as PEM without whitespace.
fn exec_key(world: &World, config_dir: &Path, name: &str) -> Vec<u8> {
    let out = exec_cat_key(world.cmd().env("NOMADCTX_CONFIG_DIR", config_dir), name).succeeds();
    squash(&out.stdout)
}

/// Issue 10, case 1: a second configuration (B) adds, removes and repairs a context of the
/// same name, and an empty one runs `doctor --repair --yes`; configuration A's key and
/// token, and another program's `service nomadctx` item, stay as they were.
#[test]
fn another_configuration_never_touches_this_ones_items() {
    let world = World::new();
    let (ec, ec2) = (pki().identity("ec"), pki().identity("ec2"));
    add_cmd(&world, "prod", &ec)
        .arg("--token-stdin")
        .stdin("token-a")
        .succeeds();
    store_foreign_item(&world, "ghost/token", "ghost-secret");
    let a = world.config_dir.clone();
    let b = world.home.join("config-b");
    let empty = world.home.join("empty");

    add_cmd(&world, "prod", &ec2)
        .env("NOMADCTX_CONFIG_DIR", &b)
        .arg("--token-stdin")
        .stdin("token-b")
        .succeeds();
    assert_eq!(exec_key(&world, &b, "prod"), squash(&ec2.key_pem()));
    assert_eq!(exec_key(&world, &a, "prod"), squash(&ec.key_pem()));
    for dir in [&b, &empty] {
        world
            .cmd()
            .env("NOMADCTX_CONFIG_DIR", dir)
            .args(["doctor", "--repair", "--yes"])
            .succeeds()
            .stderr_has("all consistent");
    }
    world
        .cmd()
        .env("NOMADCTX_CONFIG_DIR", &b)
        .args(["remove", "prod"])
        .succeeds();

    assert_eq!(exec_key(&world, &a, "prod"), squash(&ec.key_pem()));
    assert_eq!(world.secret("prod/client-key").unwrap(), key_der(&ec.key));
    assert_eq!(world.secret("prod/token").unwrap(), b"token-a");
    assert_eq!(world.secret_at("ghost/token").unwrap(), b"ghost-secret");
    world
        .cmd()
        .args(["doctor", "--repair", "--yes"])
        .succeeds()
        .stderr_has("all consistent");
    assert_eq!(world.secret_at("ghost/token").unwrap(), b"ghost-secret");
    assert_eq!(
        world.keychain_accounts(),
        ["orphan:ghost/token", "prod/client-key", "prod/token"]
    );
}

/// Issue 10, case 3: a keychain write that times out and lands later (the daemon's save
/// slowed down with strace) leaves an orphan beside the live key, never over it.
#[test]
fn a_write_that_lands_after_its_timeout_never_replaces_the_live_key() {
    crate::harness::require_tool("strace");
    let world = World::traceable();
    let (ec, ec2) = (pki().identity("ec"), pki().identity("ec2"));
    add_cmd(&world, "prod", &ec).succeeds();
    let accounts = world.raw_keychain_accounts().len();

    // Every save of the keyring file now takes 4 s; nomadctx waits 1 s.
    let mut strace = Command::new("strace")
        .args([
            "-f",
            "-o",
            "/dev/null",
            "-e",
            "trace=rename,renameat,renameat2",
        ])
        .args(["-e", "inject=rename,renameat,renameat2:delay_enter=4000000"])
        .args(["-p", &world.keyring_pid().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let attached = first_line(strace.stderr.take().unwrap());
    assert!(attached.contains("attached"), "strace: {attached}");

    let set = world
        .cmd()
        .env("NOMADCTX_KEYCHAIN_TIMEOUT", "1")
        .args(["set", "prod", "--cert"])
        .arg(&ec2.cert)
        .arg("--key")
        .arg(&ec2.key)
        .fails();
    set.stderr_has("did not answer within 1 second");
    // The write lands once the slowed save is done.
    let deadline = Instant::now() + Duration::from_secs(30);
    while world.raw_keychain_accounts().len() == accounts {
        assert!(
            Instant::now() < deadline,
            "the timed-out write never landed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    strace.kill().unwrap();
    strace.wait().unwrap();

    assert_eq!(world.secret("prod/client-key").unwrap(), key_der(&ec.key));
    assert_eq!(
        exec_key(&world, &world.config_dir, "prod"),
        squash(&ec.key_pem())
    );
    let found = world.cmd().arg("doctor").output();
    assert_eq!(found.code(), 1, "{}", found.stderr_text());
    found.stderr_has("client key of context \"prod\" (id");
    found.stderr_has("belongs to no context");
    world
        .cmd()
        .args(["doctor", "--repair", "--yes"])
        .succeeds()
        .stderr_has("repaired; all consistent");
    assert_eq!(world.keychain_accounts(), ["prod/client-key"]);
    assert_eq!(world.secret("prod/client-key").unwrap(), key_der(&ec.key));
}

/// Runs `script` in bash with the kernel keyring as the keychain, in a user namespace of
/// its own (so the user's own keyrings are out of reach), under a new session keyring.
fn kernel_script(world: &World, script: &str) -> std::process::Output {
    world
        .in_private_keyrings("bash")
        .args(["-c", script])
        .env("NOMADCTX_KEYCHAIN", "keyutils")
        .output()
}

/// Issue 10, cases 4 and 5: with the kernel keyring, two configurations keep their keys
/// apart; a key stored from one session keyring is found from another (the keys are in
/// the user's persistent keyring); and after a reboot (the persistent keyring cleared) the
/// missing key says why and `set NAME --key FILE` alone puts it back.
#[test]
fn the_kernel_keyring_keeps_configurations_apart_and_says_what_a_reboot_did() {
    crate::harness::require_tool("keyctl");
    let world = World::new();
    let (ec, ec2) = (pki().identity("ec"), pki().identity("ec2"));
    let other = world.home.join("config-b");
    let script = format!(
        "add() {{ nomadctx add prod --address https://127.0.0.1:4646 --cert \"$1\" --key \"$2\"; }}
key() {{ nomadctx exec prod -- sh -c 'cat \"$NOMAD_CLIENT_KEY\"' | tr -d ' \\n'; echo; }}
add '{cert}' '{key}' 2>add.err; echo \"add=$?\"
NOMADCTX_CONFIG_DIR='{other}' add '{cert2}' '{key2}' 2>/dev/null; echo \"add-b=$?\"
key
NOMADCTX_CONFIG_DIR='{other}' nomadctx remove prod; echo \"remove-b=$?\"
keyctl session - bash -c \"$(declare -f key); key\" 2>/dev/null | tail -n 1
nomadctx show prod | grep -c 'lost at reboot'
nomadctx list 2>&1 | grep -c 'lost at reboot'
keyctl clear \"$(keyctl get_persistent @s)\"
nomadctx use prod --shell bash >/dev/null 2>use.err; echo \"use=$?\"
nomadctx doctor 2>&1 | grep -c 'no client key in the keychain (lost at reboot: kernel keyring)'
nomadctx set prod --key '{key}'; echo \"set=$?\"
key
nomadctx add again --address https://127.0.0.1:4646 --cert '{cert}' --key key-copy.pem --remove-key-file 2>remove.err; echo \"add-remove=$?\"
test -e key-copy.pem && echo key-file-kept",
        cert = ec.cert.display(),
        key = ec.key.display(),
        cert2 = ec2.cert.display(),
        key2 = ec2.key.display(),
        other = other.display(),
    );
    std::fs::copy(&ec.key, world.home.join("key-copy.pem")).unwrap();
    std::fs::set_permissions(
        world.home.join("key-copy.pem"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let out = kernel_script(&world, &script);
    let key = String::from_utf8(squash(&ec.key_pem())).unwrap();
    let stdout = out.stdout_text();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "add=0",
            "add-b=0",
            &key,
            "remove-b=0",
            &key,
            "1",
            "1",
            "use=1",
            "1",
            "set=0",
            &key,
            "add-remove=1",
            "key-file-kept",
        ],
        "{}",
        out.stderr_text()
    );
    let read = |file: &str| std::fs::read_to_string(world.home.join(file)).unwrap();
    assert!(
        read("add.err").contains("lost at reboot"),
        "{}",
        read("add.err")
    );
    let use_err = read("use.err");
    assert!(
        use_err.contains("lost at reboot (kernel keyring)")
            && use_err.contains("nomadctx set prod --key FILE"),
        "{use_err}"
    );
    let remove_err = read("remove.err");
    assert!(
        remove_err.contains("--remove-key-file") && remove_err.contains("--force"),
        "{remove_err}"
    );
    assert!(
        world.raw_keychain_accounts().is_empty(),
        "nothing went to the Secret Service"
    );
}

/// An installation as nomadctx left it before store and context ids: certificates under
/// `certs/NAME/`, keychain items under `NAME/client-key` and `NAME/token`.
fn legacy_install(world: &World, contexts: &[(&str, &Identity, Option<&str>)]) {
    let dir = &world.config_dir;
    let mut config = String::from("default = \"prod\"\n");
    for (name, id, token) in contexts {
        let certs = dir.join("certs").join(name);
        std::fs::create_dir_all(&certs).unwrap();
        for d in [dir.clone(), dir.join("certs"), certs.clone()] {
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        std::fs::copy(&id.ca, certs.join("ca.pem")).unwrap();
        std::fs::copy(&id.cert, certs.join("client.pem")).unwrap();
        config.push_str(&format!(
            "\n[contexts.{name}]\naddress = \"https://127.0.0.1:4646\"\nca_cert = true\nclient_cert = true\n{}",
            if token.is_some() { "token = true\n" } else { "" }
        ));
        store_legacy(world, &format!("{name}/client-key"), &key_der(&id.key));
        if let Some(token) = token {
            store_legacy(world, &format!("{name}/token"), token.as_bytes());
        }
    }
    std::fs::write(dir.join("config.toml"), config).unwrap();
}

fn store_legacy(world: &World, account: &str, secret: &[u8]) {
    world
        .program("secret-tool")
        .args([
            "store",
            "--label=nomadctx (before ids)",
            "service",
            "nomadctx",
            "username",
            account,
        ])
        .stdin(secret.to_vec())
        .succeeds();
    assert_eq!(world.secret_at(account).unwrap(), secret, "{account}");
}

/// What a finished migration leaves: ids in the config, the keys and token under them,
/// no item or directory of the old layout, and doctor content.
fn assert_migrated(world: &World, ec: &Identity, rsa: &Identity) {
    let config = world.config();
    assert!(config.store.is_some());
    // The old items stay: another configuration may share them.
    assert_eq!(
        world.keychain_accounts(),
        [
            "orphan:prod/client-key",
            "orphan:prod/token",
            "orphan:staging/client-key",
            "prod/client-key",
            "prod/token",
            "staging/client-key"
        ]
    );
    assert_eq!(world.secret("prod/client-key").unwrap(), key_der(&ec.key));
    assert_eq!(world.secret("prod/token").unwrap(), b"legacy-token");
    assert_eq!(
        world.secret("staging/client-key").unwrap(),
        key_der(&rsa.key)
    );
    for name in ["prod", "staging"] {
        assert!(
            !world.config_dir.join("certs").join(name).exists(),
            "{name}"
        );
    }
    assert!(!world.config_dir.join("migration.toml").exists());
    assert_eq!(
        exec_key(world, &world.config_dir, "staging"),
        squash(&rsa.key_pem())
    );
    doctor_is_happy(world);
}

/// Issue 10, case 4 of the deliverables: the first run moves an installation of the old
/// layout, says so once, and nobody has to do anything.
#[test]
fn an_installation_from_before_ids_is_moved_on_first_use() {
    let world = World::new();
    let (ec, rsa) = (pki().identity("ec"), pki().identity("rsa"));
    legacy_install(
        &world,
        &[("prod", &ec, Some("legacy-token")), ("staging", &rsa, None)],
    );
    let first = exec_cat_key(world.cmd(), "prod").succeeds();
    assert_eq!(squash(&first.stdout), squash(&ec.key_pem()));
    first
        .stderr_has("moved 2 context(s)")
        .stderr_has("are left in place");
    let second = world.cmd().args(["exec", "prod", "--", "true"]).succeeds();
    assert!(
        !second.stderr_text().contains("moved"),
        "{}",
        second.stderr_text()
    );
    assert_migrated(&world, &ec, &rsa);
}

/// A key item of the old layout that does not fit its context's certificate (another
/// configuration shared `NAME/client-key` before ids) is neither copied nor deleted.
#[test]
fn the_migration_leaves_a_key_that_is_not_this_configurations() {
    let world = World::new();
    let (ec, ec2) = (pki().identity("ec"), pki().identity("ec2"));
    legacy_install(&world, &[("prod", &ec, None)]);
    store_legacy(&world, "prod/client-key", &key_der(&ec2.key));
    let moved = world.cmd().args(["exec", "prod", "--", "true"]).fails();
    moved
        .stderr_has("does not fit the certificate of context \"prod\"")
        .stderr_has("nomadctx set prod --key FILE");
    assert_eq!(
        world.secret_at("prod/client-key").unwrap(),
        key_der(&ec2.key)
    );
}

/// The migration killed at every step: the next run finishes it, with nothing lost.
#[test]
fn the_migration_killed_at_every_step_is_finished_by_the_next_run() {
    let (ec, rsa) = (pki().identity("ec"), pki().identity("rsa"));
    for step in [
        "migration-planned",
        "migration-copied",
        "save-config",
        "migration-committed",
    ] {
        let world = World::new();
        legacy_install(
            &world,
            &[("prod", &ec, Some("legacy-token")), ("staging", &rsa, None)],
        );
        kill_at_step(world.cmd().args(["exec", "prod", "--", "true"]), "", step);

        let finished = exec_cat_key(world.cmd(), "prod").succeeds();
        assert_eq!(squash(&finished.stdout), squash(&ec.key_pem()), "{step}");
        assert_migrated(&world, &ec, &rsa);
    }
}

/// Before ids, two configurations with a context of the same name shared its items: the
/// first to move leaves them, so the second moves too and nothing is lost.
#[test]
fn two_configurations_from_before_ids_that_shared_items_both_move() {
    let world = World::new();
    let ec = pki().identity("ec");
    legacy_install(&world, &[("prod", &ec, Some("legacy-token"))]);
    let other = world.home.join("config-b");
    copy_dir(&world.config_dir, &other);
    for dir in [&world.config_dir, &other] {
        assert_eq!(exec_key(&world, dir, "prod"), squash(&ec.key_pem()));
        world
            .cmd()
            .env("NOMADCTX_CONFIG_DIR", dir)
            .arg("doctor")
            .succeeds();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o700)).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A migration cut short after its plan, then a hand edit of config.toml: the next run
/// plans again from the edited config (the edit stays), and nothing is lost.
#[test]
fn a_config_edited_after_a_cut_short_migration_is_planned_again() {
    let world = World::new();
    let (ec, rsa) = (pki().identity("ec"), pki().identity("rsa"));
    legacy_install(
        &world,
        &[("prod", &ec, Some("legacy-token")), ("staging", &rsa, None)],
    );
    kill_at_step(
        world.cmd().args(["exec", "prod", "--", "true"]),
        "",
        "migration-copied",
    );
    let config = world.config_dir.join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let edited = text.replace(
        "[contexts.prod]\n",
        "[contexts.prod]\nnamespace = \"edited\"\n",
    );
    assert_ne!(edited, text);
    std::fs::write(&config, edited).unwrap();

    assert_eq!(
        exec_key(&world, &world.config_dir, "prod"),
        squash(&ec.key_pem())
    );
    world
        .cmd()
        .args(["show", "prod"])
        .succeeds()
        .stdout_has("edited");
    // What the cut-short run wrote under its plan is this store's: doctor finds it.
    world
        .cmd()
        .args(["doctor", "--repair", "--yes"])
        .succeeds()
        .stderr_has("all consistent");
    assert_migrated(&world, &ec, &rsa);
}

/// Another program's item that looks like one of the old layout (same service and account,
/// plus an attribute of its own, in another collection) is neither taken nor deleted.
#[test]
fn the_migration_takes_no_other_programs_item() {
    let world = World::new();
    let ec = pki().identity("ec");
    legacy_install(&world, &[("prod", &ec, None)]);
    let config = world.config_dir.join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}\n[contexts.ghost]\naddress = \"https://127.0.0.1:4646\"\ntoken = true\n"),
    )
    .unwrap();
    store_foreign_item(&world, "ghost/token", "ghost-secret");
    let out = world
        .cmd()
        .args([
            "exec",
            "ghost",
            "--",
            "sh",
            "-c",
            "echo \"token=$NOMAD_TOKEN\"",
        ])
        .output();
    assert!(
        !out.stdout_text().contains("ghost-secret"),
        "{}",
        out.stdout_text()
    );
    out.stderr_has("the ACL token of context \"ghost\" was not found");
    assert_eq!(world.secret_at("ghost/token").unwrap(), b"ghost-secret");
    assert_eq!(
        exec_key(&world, &world.config_dir, "prod"),
        squash(&ec.key_pem())
    );
}

/// A copy of a configuration directory (`cp -a`, a restored backup) carries the original's
/// store id: before it changes anything it takes one of its own, with copies of its secrets,
/// so neither configuration can delete or replace the other's items.
#[test]
fn a_copied_configuration_directory_gets_items_of_its_own() {
    let world = World::new();
    let (ec, ec2) = (pki().identity("ec"), pki().identity("ec2"));
    add_cmd(&world, "prod", &ec)
        .arg("--token-stdin")
        .stdin("token-a")
        .succeeds();
    let (a, b) = (world.config_dir.clone(), world.home.join("copy"));
    copy_dir(&a, &b);
    let in_b = |args: &[&str]| world.cmd().env("NOMADCTX_CONFIG_DIR", &b).args(args);

    in_b(&["set", "prod", "--cert"])
        .arg(&ec2.cert)
        .arg("--key")
        .arg(&ec2.key)
        .succeeds()
        .stderr_has("is a copy of another configuration's directory");
    assert_eq!(exec_key(&world, &a, "prod"), squash(&ec.key_pem()));
    assert_eq!(exec_key(&world, &b, "prod"), squash(&ec2.key_pem()));
    add_cmd(&world, "dev", &ec2)
        .env("NOMADCTX_CONFIG_DIR", &b)
        .succeeds();
    world
        .cmd()
        .args(["doctor", "--repair", "--yes"])
        .succeeds()
        .stderr_has("all consistent");
    in_b(&["remove", "prod"]).succeeds();
    assert_eq!(exec_key(&world, &a, "prod"), squash(&ec.key_pem()));
    assert_eq!(world.secret("prod/token").unwrap(), b"token-a");
    assert_eq!(exec_key(&world, &b, "dev"), squash(&ec2.key_pem()));
    in_b(&["doctor"]).succeeds().stderr_has("all consistent");
}

/// Issue 10, case 4: from a shell without a session keyring (a fresh user namespace has
/// none: `@s` falls back to the user-session keyring), `add` stored the key where a later
/// `exec` from a shell with a session keyring did not look, and the other way round. The
/// tests may themselves run with a session keyring (`su -` and console logins make one with
/// pam_keyinit, which the namespace keeps): then the first shell has one too, and the key
/// must still be the same from a second, new session keyring.
#[test]
fn the_kernel_keyring_is_the_same_with_and_without_a_session_keyring() {
    crate::harness::require_tool("keyctl");
    crate::harness::require_tool("unshare");
    let world = World::new();
    let id = pki().identity("ec");
    let script = format!(
        "key() {{ nomadctx exec \"$1\" -- sh -c 'cat \"$NOMAD_CLIENT_KEY\"' | tr -d ' \\n'; echo; }}
nomadctx add without --address https://127.0.0.1:4646 --cert '{cert}' --key '{key}' 2>/dev/null
keyctl session - bash -c \"$(declare -f key); key without\" 2>/dev/null | tail -n 1
keyctl session - nomadctx add with --address https://127.0.0.1:4646 --cert '{cert}' --key '{key}' 2>/dev/null
key with",
        cert = id.cert.display(),
        key = id.key.display(),
    );
    let out = world
        .program("unshare")
        .args(["--user", "--map-current-user", "bash", "-c", &script])
        .env("NOMADCTX_KEYCHAIN", "keyutils")
        .output();
    let key = String::from_utf8(squash(&id.key_pem())).unwrap();
    assert_eq!(
        out.stdout_text().lines().collect::<Vec<_>>(),
        [key.as_str(), key.as_str()],
        "{}",
        out.stderr_text()
    );
}
