//! Under pressure: many changes at once against one config, and changes killed half-way,
//! after which `doctor` finds and repairs what was left.

use std::collections::BTreeSet;
use std::process::Child;
use std::time::{Duration, Instant};

use crate::harness::{
    OutputExt, Run, World, add_cmd, add_with, doctor_is_happy, key_der, kill_at_step, pki, spawn,
    squash,
};

/// The context names in config.toml, parsed by an independent TOML reader.
fn config_names(world: &World) -> BTreeSet<String> {
    let Ok(text) = std::fs::read_to_string(world.config_dir.join("config.toml")) else {
        return BTreeSet::new();
    };
    let config: toml::Table = toml::from_str(&text).unwrap();
    config
        .get("contexts")
        .and_then(|c| c.as_table())
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

/// The certificate directories (`certs/ID`), as the names of their contexts; a directory
/// no context has shows as `orphan:ID`.
fn cert_dirs(world: &World) -> BTreeSet<String> {
    let config = world.config();
    std::fs::read_dir(world.config_dir.join("certs"))
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .map(|id| {
                    config
                        .contexts
                        .iter()
                        .find(|(_, c)| c.id() == id)
                        .map_or(format!("orphan:{id}"), |(n, _)| n.clone())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// 32 processes at once: 4 racing to add the same name, 4 adds, 8 sets, 8 renames and 8
/// removes. Every serial order gives the same end state except for which racer wins, so
/// the end state is checked exactly; meanwhile config.toml must parse at every read.
#[test]
fn thirty_two_concurrent_changes_end_in_a_serial_outcome() {
    let world = World::new();
    let id = pki().identity("ec");
    for prefix in ["s", "r", "d"] {
        for i in 0..8 {
            add_with(&world, &format!("{prefix}{i}"), &id, &[]);
        }
    }
    let mut children: Vec<(String, Child)> = Vec::new();
    for i in 0..4 {
        let run = world
            .cmd()
            .args([
                "add",
                "dup",
                "--address",
                &format!("https://dup-{i}.example:4646"),
            ])
            .arg("--ca")
            .arg(&id.ca)
            .arg("--cert")
            .arg(&id.cert)
            .arg("--key")
            .arg(&id.key)
            .arg("--token-stdin");
        children.push((format!("dup-{i}"), spawn(run, &format!("token-{i}"))));
        children.push((
            format!("add a{i}"),
            spawn(add_cmd(&world, &format!("a{i}"), &id), ""),
        ));
    }
    for i in 0..8 {
        let set = world
            .cmd()
            .args(["set", &format!("s{i}"), "--namespace", &format!("ns-{i}")]);
        children.push((format!("set s{i}"), spawn(set, "")));
        let rename = world
            .cmd()
            .args(["rename", &format!("r{i}"), &format!("rn{i}")]);
        children.push((format!("rename r{i}"), spawn(rename, "")));
        let remove = world.cmd().args(["remove", &format!("d{i}")]);
        children.push((format!("remove d{i}"), spawn(remove, "")));
    }
    assert_eq!(children.len(), 32);

    let config = world.config_dir.join("config.toml");
    let mut reads = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while children
        .iter_mut()
        .any(|(_, c)| c.try_wait().unwrap().is_none())
    {
        let text = std::fs::read_to_string(&config).unwrap();
        toml::from_str::<toml::Table>(&text)
            .unwrap_or_else(|e| panic!("config.toml did not parse mid-run: {e}\n{text}"));
        reads += 1;
        assert!(Instant::now() < deadline, "the changes did not finish");
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(reads > 10, "only {reads} reads happened during the run");

    let mut dup_winners = Vec::new();
    for (label, child) in children {
        let out = child.wait_with_output().unwrap();
        if let Some(i) = label.strip_prefix("dup-") {
            if out.status.success() {
                dup_winners.push(i.to_owned());
            } else {
                out.stderr_has("already exists");
            }
        } else {
            assert!(out.status.success(), "{label}: {}", out.stderr_text());
        }
    }
    assert_eq!(dup_winners.len(), 1, "{dup_winners:?}");

    let mut expected: BTreeSet<String> = ["dup", "a0", "a1", "a2", "a3"].map(String::from).into();
    for i in 0..8 {
        expected.insert(format!("s{i}"));
        expected.insert(format!("rn{i}"));
    }
    assert_eq!(config_names(&world), expected);
    assert_eq!(cert_dirs(&world), expected);
    let mut accounts: BTreeSet<String> =
        expected.iter().map(|n| format!("{n}/client-key")).collect();
    accounts.insert("dup/token".into());
    assert_eq!(
        world
            .keychain_accounts()
            .into_iter()
            .collect::<BTreeSet<_>>(),
        accounts
    );
    let winner = &dup_winners[0];
    world
        .cmd()
        .args(["show", "dup"])
        .succeeds()
        .stdout_has(&format!("https://dup-{winner}.example:4646"));
    assert_eq!(
        world.secret("dup/token").unwrap(),
        format!("token-{winner}").into_bytes()
    );
    for i in 0..8 {
        world
            .cmd()
            .args(["show", &format!("s{i}")])
            .succeeds()
            .stdout_has(&format!("ns-{i}"));
    }
    doctor_is_happy(&world);
}

/// Runs nomadctx until it reports it paused at `step`, then SIGKILLs it.
fn kill_at(world: &World, run: Run, stdin: &str, step: &str) {
    kill_at_step(run, stdin, step);
    // Whatever was left, the config still parses and plain commands work.
    config_names(world);
    world.cmd().arg("list").succeeds();
}

/// The keychain's items in `NAME/KIND` form, with `orphan:` ones (no context points at
/// them) counted apart.
fn orphans(world: &World) -> Vec<String> {
    world
        .keychain_accounts()
        .into_iter()
        .filter(|a| a.starts_with("orphan:"))
        .collect()
}

/// `doctor` finds problems; `--repair` without a terminal and without `--yes` shows its plan
/// and changes nothing; `--repair --yes` carries it out and leaves all consistent.
fn doctor_repairs(world: &World, found: &[&str]) {
    let out = world.cmd().arg("doctor").output();
    assert_eq!(out.code(), 1, "{}", out.stderr_text());
    for needle in found {
        out.stderr_has(needle);
    }
    out.stderr_has("`nomadctx doctor --repair`");
    let before = world.snapshot();
    let asked = world.cmd().args(["doctor", "--repair"]).output();
    assert_eq!(asked.code(), 1, "{}", asked.stderr_text());
    asked
        .stderr_has("the repair would:")
        .stderr_has("nothing repaired; run `nomadctx doctor --repair --yes`");
    assert_eq!(
        world.snapshot(),
        before,
        "--repair without --yes changed something"
    );
    world
        .cmd()
        .args(["doctor", "--repair", "--yes"])
        .succeeds()
        .stderr_has("repaired; all consistent");
    assert_eq!(orphans(world), Vec::<String>::new());
    assert!(
        !cert_dirs(world).iter().any(|d| d.starts_with("orphan:")),
        "{:?}",
        cert_dirs(world)
    );
    doctor_is_happy(world);
}

/// `add` killed at each step: before the config is saved the context does not exist and
/// doctor finds (then deletes) the keychain items and files it had written; after, the
/// context is whole.
#[test]
fn add_killed_at_every_step_leaves_nothing_doctor_cannot_repair() {
    let world = World::new();
    let id = pki().identity("ec");
    for (step, committed) in [
        ("item-written", false),
        ("pieces-written", false),
        ("save-config", false),
        ("config-saved", true),
    ] {
        let name = format!("add-{step}");
        kill_at(
            &world,
            add_cmd(&world, &name, &id).arg("--token-stdin"),
            "tok",
            step,
        );
        assert_eq!(config_names(&world).contains(&name), committed, "{step}");
        if committed {
            // Killed before the links to its certificates were made: exec uses the files
            // themselves, and doctor makes the links.
            world.cmd().args(["exec", &name, "--", "true"]).succeeds();
            doctor_repairs(&world, &["certificate links of context"]);
            continue;
        }
        let mut found = vec!["client key of a context no longer here"];
        if step != "item-written" {
            found.extend(["ACL token of a context no longer here", "certs/"]);
        }
        doctor_repairs(&world, &found);
        assert!(!config_names(&world).contains(&name), "{step}");
    }
}

/// `set` replacing the certificate, key and token, killed at each step: the context holds
/// either the old pair or the new one, never a mix, and doctor removes the other.
#[test]
fn set_killed_at_every_step_keeps_a_matching_pair() {
    let world = World::new();
    let (old, new) = (pki().identity("ec"), pki().identity("ec2"));
    for (step, committed) in [
        ("item-written", false),
        ("pieces-written", false),
        ("save-config", false),
        ("config-saved", true),
        ("retired-removed", true),
    ] {
        let name = format!("set-{step}");
        add_cmd(&world, &name, &old)
            .arg("--token-stdin")
            .stdin("old-token")
            .succeeds();
        let set = world
            .cmd()
            .args(["set", &name, "--cert"])
            .arg(&new.cert)
            .arg("--key")
            .arg(&new.key)
            .arg("--token-stdin");
        kill_at(&world, set, "new-token", step);
        let (id, token) = if committed {
            (&new, "new-token")
        } else {
            (&old, "old-token")
        };
        let cert = std::fs::read(world.cert_file(&name, "client")).unwrap();
        assert_eq!(
            squash(&cert),
            squash(&std::fs::read(&id.cert).unwrap()),
            "{step}"
        );
        assert_eq!(
            world.secret(&format!("{name}/client-key")).unwrap(),
            key_der(&id.key),
            "{step}"
        );
        assert_eq!(
            world.secret(&format!("{name}/token")).unwrap(),
            token.as_bytes(),
            "{step}"
        );
        world.cmd().args(["exec", &name, "--", "true"]).succeeds();
        doctor_repairs(&world, &["belongs to no context"]);
        assert_eq!(
            world.secret(&format!("{name}/client-key")).unwrap(),
            key_der(&id.key),
            "{step}"
        );
    }
}

/// `remove` killed at each step: before the config is saved nothing has changed; after,
/// the context is gone and doctor deletes what was still there.
#[test]
fn remove_killed_at_every_step_leaves_nothing_doctor_cannot_repair() {
    let world = World::new();
    let id = pki().identity("ec");
    for (step, committed) in [
        ("save-config", false),
        ("config-saved", true),
        ("retired-removed", true),
    ] {
        let name = format!("rm-{step}");
        add_cmd(&world, &name, &id)
            .arg("--token-stdin")
            .stdin("tok")
            .succeeds();
        kill_at(&world, world.cmd().args(["remove", &name]), "", step);
        assert_eq!(!config_names(&world).contains(&name), committed, "{step}");
        if !committed {
            doctor_is_happy(&world);
            world.cmd().args(["exec", &name, "--", "true"]).succeeds();
            world.cmd().args(["remove", &name]).succeeds();
            continue;
        }
        doctor_repairs(
            &world,
            &["of a context no longer here", "belongs to no context"],
        );
    }
}

/// A context renamed by hand in config.toml keeps everything: ids, not names, find its
/// items and files, so doctor has nothing to do and nothing is deleted.
#[test]
fn a_context_renamed_by_hand_keeps_its_key_and_certificates() {
    let world = World::new();
    let id = pki().identity("ec");
    add_cmd(&world, "staging", &id)
        .arg("--token-stdin")
        .stdin("tok")
        .succeeds();
    let before = world.keychain_accounts();
    let config = world.config_dir.join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("[contexts.staging]", "[contexts.staging2]"),
    )
    .unwrap();
    doctor_is_happy(&world);
    world
        .cmd()
        .args(["doctor", "--repair", "--yes"])
        .succeeds()
        .stderr_has("all consistent");
    world
        .cmd()
        .args(["exec", "staging2", "--", "true"])
        .succeeds();
    let renamed: Vec<String> = before
        .iter()
        .map(|a| a.replace("staging", "staging2"))
        .collect();
    assert_eq!(world.keychain_accounts(), renamed);
    assert_eq!(
        world.secret("staging2/client-key").unwrap(),
        key_der(&id.key)
    );
}

/// A context that lost its key item (a reboot with the kernel keyring, a hand deletion):
/// doctor deletes nothing while the context lacks its key, and once an orphan that fits
/// its certificate is there, puts it back as the context's key.
#[test]
fn doctor_puts_a_missing_key_back_from_an_orphan_that_fits() {
    let world = World::new();
    let (id, other) = (pki().identity("ec"), pki().identity("ec2"));
    add_with(&world, "prod", &id, &[]);
    // An add of another key killed before its commit leaves an orphan that does not fit.
    kill_at(
        &world,
        add_cmd(&world, "other", &other),
        "",
        "pieces-written",
    );
    let live = world.live_account("prod/client-key").unwrap();
    world
        .program("secret-tool")
        .args(["clear", "service", "nomadctx", "username", &live])
        .succeeds();
    let found = world.cmd().arg("doctor").output();
    assert_eq!(found.code(), 1);
    found
        .stderr_has("context \"prod\" has no client key")
        .stderr_has("belongs to no context");
    let before = world.snapshot();
    let stuck = world.cmd().args(["doctor", "--repair", "--yes"]).output();
    assert_eq!(stuck.code(), 1, "{}", stuck.stderr_text());
    stuck.stderr_has("nothing here can be repaired automatically; no orphan is deleted, since 1 problem(s) above need you first");
    assert_eq!(world.snapshot(), before);

    // The same key, from an add killed before its commit, is an orphan that fits.
    kill_at(&world, add_cmd(&world, "again", &id), "", "pieces-written");
    world
        .cmd()
        .args(["doctor", "--repair"])
        .output()
        .stderr_has("put back the client key of context \"prod\" from the orphan item");
    world
        .cmd()
        .args(["doctor", "--repair", "--yes"])
        .succeeds()
        .stderr_has("put back the client key of \"prod\"");
    world.cmd().args(["exec", "prod", "--", "true"]).succeeds();
    assert_eq!(world.secret("prod/client-key").unwrap(), key_der(&id.key));
    doctor_is_happy(&world);
    assert_eq!(world.keychain_accounts(), ["prod/client-key"]);
}

/// The kernel keyring: doctor finds what a killed `add` left there, lists only this
/// store's keys, and a second configuration's keys are never touched.
#[test]
fn doctor_finds_orphans_in_the_kernel_keyring() {
    crate::harness::require_tool("keyctl");
    crate::harness::require_tool("pkill");
    let world = World::new();
    let id = pki().identity("ec");
    let other = world.config_dir.with_file_name("other-config");
    // One kernel session keyring for the whole story, as a login session would have, in
    // a user namespace so that the user's own keyrings are out of reach.
    let script = format!(
        "add() {{ nomadctx add \"$@\" --address https://127.0.0.1:4646 --cert '{cert}' --key '{key}'; }}
NOMADCTX_CONFIG_DIR='{other}' add ku 2>/dev/null; echo \"other=$?\"
NOMADCTX_PAUSE_AT=pieces-written add ku 2>'{paused}' & pid=$!
# Killed once it says it paused (not after a fixed time, which a loaded machine may miss).
for _ in $(seq 1200); do grep -q 'paused at' '{paused}' && break; sleep 0.05; done
pkill -KILL -P $pid nomadctx; kill -KILL $pid 2>/dev/null; wait $pid
grep -q 'paused at' '{paused}' && echo \"killed=paused\"
nomadctx doctor; echo \"doctor=$?\"
nomadctx doctor --repair --yes; echo \"repair=$?\"
nomadctx doctor; echo \"after=$?\"
NOMADCTX_CONFIG_DIR='{other}' nomadctx exec ku -- true; echo \"other-exec=$?\"",
        cert = id.cert.display(),
        key = id.key.display(),
        other = other.display(),
        paused = world.tmp.path().join("paused").display(),
    );
    let out = world
        .in_private_keyrings("bash")
        .args(["-c", &script])
        .env("NOMADCTX_KEYCHAIN", "keyutils")
        .output();
    let stdout = out.stdout_text();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "other=0",
            "killed=paused",
            "doctor=1",
            "repair=0",
            "after=0",
            "other-exec=0"
        ],
        "{}",
        out.stderr_text()
    );
    out.stderr_has("client key of a context no longer here")
        .stderr_has("kernel keyring");
}

/// Commands that read a context while `set` replaces its certificate and key (and so deletes
/// the versions they read in config.toml) still run: they read the config again and fetch
/// what it names now. A shell that ran `use` keeps working certificate paths across `set`.
#[test]
fn readers_keep_working_while_set_replaces_the_key() {
    let world = World::new();
    let (ec, ec2) = (pki().identity("ec"), pki().identity("ec2"));
    add_with(&world, "prod", &ec, &[]);
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let setter = scope.spawn(|| {
            for i in 0..12 {
                let id = if i % 2 == 0 { &ec2 } else { &ec };
                world.cmd().args(["set", "prod"]).identity(id).succeeds();
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let mut runs = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) {
            let out = world
                .cmd()
                .args(["exec", "prod", "--", "sh", "-c"])
                .arg("test -r \"$NOMAD_CACERT\" && test -r \"$NOMAD_CLIENT_CERT\" && test -r \"$NOMAD_CLIENT_KEY\"")
                .output();
            assert!(out.status.success(), "run {runs}: {}", out.stderr_text());
            runs += 1;
        }
        setter.join().unwrap();
        assert!(runs > 3, "only {runs} runs overlapped the changes");
    });

    let script = format!(
        "eval \"$(nomadctx use prod)\"
nomadctx set prod --ca '{}' 2>/dev/null
test -r \"$NOMAD_CACERT\" && test -r \"$NOMAD_CLIENT_CERT\" && echo paths-ok
case $NOMAD_CACERT in */ca.pem) echo stable ;; esac",
        ec.ca.display()
    );
    let out = world.program("bash").args(["-c", &script]).succeeds();
    assert_eq!(
        out.stdout_text(),
        "paths-ok\nstable\n",
        "{}",
        out.stderr_text()
    );
    doctor_is_happy(&world);
}

/// Files a user keeps under `certs/` (a backup directory, notes) are not nomadctx's:
/// `doctor --repair` neither reports nor deletes them (it used to delete a directory with a
/// key in it and stop at a plain file).
#[test]
fn doctor_leaves_files_it_did_not_write_under_certs() {
    let world = World::new();
    let id = pki().identity("ec");
    add_with(&world, "prod", &id, &[]);
    let certs = world.config_dir.join("certs");
    std::fs::create_dir(certs.join("my-backup")).unwrap();
    std::fs::copy(&id.key, certs.join("my-backup/prod-key.pem")).unwrap();
    std::fs::write(certs.join("notes.txt"), "cluster notes").unwrap();
    let dir = world.cert_file("prod", "client").with_file_name("README");
    std::fs::write(&dir, "mine").unwrap();
    world
        .cmd()
        .args(["doctor", "--repair", "--yes"])
        .succeeds()
        .stderr_has("all consistent");
    assert!(certs.join("my-backup/prod-key.pem").exists());
    assert!(certs.join("notes.txt").exists());
    assert!(dir.exists());
}
