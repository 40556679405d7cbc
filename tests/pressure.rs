//! Under pressure: many changes at once against one config, and changes killed half-way,
//! after which `doctor` finds and repairs what was left.

mod harness;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use harness::{OutputExt, Run, World, add_cmd, add_with, pki};

fn spawn(run: Run, stdin: &str) -> Child {
    let mut cmd = run.cmd;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child
}

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

fn doctor_is_happy(world: &World) {
    world
        .cmd()
        .arg("doctor")
        .succeeds()
        .stderr_has("all consistent");
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
    let mut child = spawn(run.env("NOMADCTX_PAUSE_AT", step), stdin);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = stderr.read_line(&mut line).unwrap();
        assert!(n > 0, "exited before pausing at {step}: {seen}");
        seen.push_str(&line);
        if line.contains(&format!("paused at {step}")) {
            break;
        }
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
    // Whatever was left, the config still parses and plain commands work.
    config_names(world);
    world.cmd().arg("list").succeeds();
}

/// `add` killed at each step: before the config is saved the context does not exist and
/// doctor finds (then deletes) the keychain items and files it had written; after, the
/// context is whole.
#[test]
fn add_killed_at_every_step_leaves_nothing_doctor_cannot_repair() {
    let world = World::new();
    let id = pki().identity("ec");
    for (step, committed) in [
        ("keychain-written", false),
        ("files-written", false),
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
            doctor_is_happy(&world);
            world.cmd().args(["exec", &name, "--", "true"]).succeeds();
            continue;
        }
        let found = world.cmd().arg("doctor").output();
        assert_eq!(found.code(), 1, "{step}: {}", found.stderr_text());
        found
            .stderr_has(&format!(
                "keychain item nomadctx/{name}/client-key belongs to no context"
            ))
            .stderr_has(&format!("nomadctx/{name}/token belongs to no context"))
            .stderr_has("doctor --repair");
        if step != "keychain-written" {
            found.stderr_has(&format!("certs/{name} belongs to no context"));
        }
        world
            .cmd()
            .args(["doctor", "--repair"])
            .succeeds()
            .stderr_has("repaired; all consistent");
        assert!(
            !world
                .keychain_accounts()
                .iter()
                .any(|a| a.starts_with(&format!("{name}/"))),
            "{step}: {:?}",
            world.keychain_accounts()
        );
        assert!(!cert_dirs(&world).contains(&name), "{step}");
        doctor_is_happy(&world);
    }
}

/// `remove` killed at each step: before the config is saved nothing has changed; after,
/// the context is gone and doctor deletes the items that were still in the keychain.
#[test]
fn remove_killed_at_every_step_leaves_nothing_doctor_cannot_repair() {
    let world = World::new();
    let id = pki().identity("ec");
    for (step, committed) in [
        ("save-config", false),
        ("config-saved", true),
        ("keychain-deleted", true),
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
        let found = world.cmd().arg("doctor").output();
        assert_eq!(found.code(), 1, "{step}: {}", found.stderr_text());
        found.stderr_has(&format!("nomadctx/{name}/token belongs to no context"));
        world.cmd().args(["doctor", "--repair"]).succeeds();
        assert!(
            !world
                .keychain_accounts()
                .iter()
                .any(|a| a.starts_with(&format!("{name}/"))),
            "{step}: {:?}",
            world.keychain_accounts()
        );
        doctor_is_happy(&world);
    }
}

/// A rename cut short after the config was saved under the new name, with the old items
/// still there, and a hand-edited config that renamed a context: doctor puts the key back
/// from the orphan that fits the certificate.
#[test]
fn doctor_puts_a_missing_key_back_from_an_orphan_that_fits() {
    let world = World::new();
    let id = pki().identity("ec");
    add_with(&world, "old", &id, &[]);
    let config = world.config_dir.join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("[contexts.old]", "[contexts.new]")).unwrap();
    std::fs::rename(
        world.config_dir.join("certs/old"),
        world.config_dir.join("certs/new"),
    )
    .unwrap();
    let found = world.cmd().arg("doctor").output();
    assert_eq!(found.code(), 1);
    found
        .stderr_has("context \"new\" has no client key")
        .stderr_has("nomadctx/old/client-key belongs to no context");
    world
        .cmd()
        .args(["doctor", "--repair"])
        .succeeds()
        .stderr_has("put the client key of \"new\" back from the item of \"old\"");
    assert_eq!(world.keychain_accounts(), ["new/client-key"]);
    world.cmd().args(["exec", "new", "--", "true"]).succeeds();
    doctor_is_happy(&world);
}

/// The kernel keyring cannot list its items, so doctor finds what a killed `add` left there
/// through the journal of unfinished changes.
#[test]
fn doctor_finds_orphans_in_the_kernel_keyring_through_the_journal() {
    harness::require_tool("keyctl");
    let world = World::new();
    let id = pki().identity("ec");
    // One kernel session keyring for the whole story, as a login session would have, in
    // a user namespace so that the user's own persistent keyring is out of reach.
    let script = format!(
        "NOMADCTX_PAUSE_AT=files-written timeout -s KILL 3 nomadctx add ku --address https://127.0.0.1:4646 --cert '{}' --key '{}' 2>/dev/null
echo \"killed=$?\"
echo \"items=$(keyctl show @s | grep -c 'ku/client-key@nomadctx')\"
nomadctx doctor; echo \"doctor=$?\"
nomadctx doctor --repair; echo \"repair=$?\"
echo \"items=$(keyctl show @s | grep -c 'ku/client-key@nomadctx')\"
nomadctx doctor; echo \"after=$?\"",
        id.cert.display(),
        id.key.display()
    );
    let out = world
        .in_private_keyrings("bash")
        .args(["-c", &script])
        .env("NOMADCTX_KEYCHAIN", "keyutils")
        .output();
    let stdout = out.stdout_text();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{stdout}\n{}", out.stderr_text());
    assert_eq!(lines[0], "killed=137");
    assert_ne!(
        lines[1], "items=0",
        "the killed add stored no key: {stdout}"
    );
    assert_eq!(lines[2..], ["doctor=1", "repair=0", "items=0", "after=0"]);
    out.stderr_has("keychain item nomadctx/ku/client-key belongs to no context")
        .stderr_has("kernel keyring");
}
