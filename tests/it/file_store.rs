//! The `file` store on a server with no D-Bus at all: a passphrase once per session, nothing
//! lost at reboot, and no plaintext secret anywhere on disk.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use crate::harness::*;

const PASS: &str = "correct horse battery staple";
const TOKEN: &str = "5f3b7a6e-2c1d-4e8f-9a0b-c4d2e6f8a1b3";

/// A server: no D-Bus, a kernel session of its own, and a file store made with [`PASS`].
struct Server {
    world: World,
    keys: KernelSession,
}

impl Server {
    fn new() -> Self {
        Self::with_passphrase(PASS)
    }

    fn with_passphrase(passphrase: &str) -> Self {
        let server = Self {
            world: World::headless(),
            keys: KernelSession::new(),
        };
        server
            .cmd()
            .args(["keychain", "use", "file", "--passphrase-stdin"])
            .stdin(format!("{passphrase}\n"))
            .succeeds()
            .stderr_has("created the file store");
        server
    }

    fn cmd(&self) -> Run {
        self.keys.cmd(&self.world)
    }

    /// `add NAME` with the identity and the ACL token.
    fn add(&self, name: &str, id: &Identity) -> Output {
        add_args(self.cmd(), name, id)
            .arg("--token-stdin")
            .stdin(TOKEN)
            .succeeds()
    }

    /// The key (DER) and token `exec NAME` hands its command.
    fn exec_secrets(&self, name: &str) -> (Vec<u8>, String) {
        let out = self
            .cmd()
            .args(["exec", name, "--", "sh", "-c"])
            .arg("cat \"$NOMAD_CLIENT_KEY\"; printf '%s' \"$NOMAD_TOKEN\" > \"$HOME/token.out\"")
            .succeeds();
        use rustls_pki_types::pem::PemObject;
        let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(&out.stdout)
            .expect("a PEM key on stdout")
            .secret_der()
            .to_vec();
        let token_file = self.world.home.join("token.out");
        let token = std::fs::read_to_string(&token_file).unwrap();
        std::fs::remove_file(token_file).unwrap();
        (key, token)
    }

    fn unlock(&self, args: &[&str]) -> Output {
        self.cmd()
            .arg("unlock")
            .args(args)
            .arg("--passphrase-stdin")
            .stdin(format!("{PASS}\n"))
            .succeeds()
    }

    fn locked_exec_fails(&self, name: &str) {
        let out = self.cmd().args(["exec", name, "--", "true"]).fails();
        out.stderr_has("the file store is locked; run `nomadctx unlock`");
        assert_eq!(out.code(), 1);
    }

    /// `keychain use BACKEND --migrate`, which must succeed (moving out of the file store
    /// needs no passphrase while it is unlocked).
    fn move_to(&self, backend: &str) -> Output {
        self.cmd()
            .args(["keychain", "use", backend, "--migrate"])
            .succeeds()
    }

    /// A NOMADCTX_PASSPHRASE_FILE holding [`PASS`], with `mode`.
    fn passphrase_file(&self, mode: u32) -> PathBuf {
        let file = self.world.home.join("passphrase");
        std::fs::write(&file, format!("{PASS}\n")).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
        file
    }

    fn store_dir(&self) -> PathBuf {
        let root = self.world.home.join(".local/share/nomadctx");
        let store = self.world.config().store.expect("a store id");
        root.join(store)
    }

    fn secret_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.store_dir().join("secrets"))
            .map(|dir| dir.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        files.sort();
        files
    }

    /// The age file holding `kind` (`client-key` or `token`) of context `name`.
    fn secret_file(&self, name: &str, kind: &str) -> PathBuf {
        let account = self.world.live_account(&format!("{name}/{kind}")).unwrap();
        let rest: Vec<&str> = account.splitn(2, '/').collect();
        self.store_dir()
            .join("secrets")
            .join(format!("{}.age", rest[1].replace('/', ".")))
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn add_then_exec_hands_over_the_stored_key_and_token_without_a_passphrase_for_add() {
    let server = Server::new();
    let id = pki().identity("ec");
    // `add` encrypts to the recipient in config.toml: no passphrase, even when locked.
    server.cmd().arg("lock").succeeds().stderr_has("locked");
    server.add("prod", &id);
    server.locked_exec_fails("prod");
    server.unlock(&[]).stderr_has("unlocked for 8h");
    assert_eq!(
        server.exec_secrets("prod"),
        (key_der(&id.key), TOKEN.to_owned())
    );

    let dir = server.store_dir();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("secrets")), 0o700);
    assert_eq!(mode(&dir.join("identity.age")), 0o600);
    let files = server.secret_files();
    assert_eq!(files.len(), 2, "{files:?}");
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
        let bytes = std::fs::read(file).unwrap();
        assert!(bytes.starts_with(b"age-encryption.org/v1\n-> X25519 "));
    }
    server
        .cmd()
        .arg("keychain")
        .succeeds()
        .stdout_has("keychain:   file")
        .stdout_has("durable:    yes")
        .stdout_has("2 item(s) of this configuration, 2 in use")
        // Soon after an 8h unlock: the kernel's 7h (or 8h) is a lower bound, and says so.
        .stdout_has("locked:     no, unlocked (at least ");
    doctor_agrees(server.cmd());
}

#[test]
fn after_a_reboot_the_store_is_locked_and_one_unlock_brings_everything_back() {
    let mut server = Server::new();
    let id = pki().identity("ec");
    server.add("prod", &id);
    server.add("dev", &pki().identity("ec2"));
    let before = server.world.snapshot();
    // A reboot: the kernel keyrings go, the files stay.
    server.keys = KernelSession::new();
    server.locked_exec_fails("prod");
    server
        .cmd()
        .arg("keychain")
        .succeeds()
        .stdout_has("locked:     yes: `nomadctx unlock`");
    server.unlock(&[]);
    assert_eq!(server.exec_secrets("prod").0, key_der(&id.key));
    assert_eq!(
        server.exec_secrets("dev").0,
        key_der(&pki().identity("ec2").key)
    );
    assert_eq!(server.world.snapshot().0, before.0, "files changed");
}

#[test]
fn a_wrong_passphrase_is_refused_and_changes_nothing() {
    let server = Server::new();
    server.add("prod", &pki().identity("ec"));
    server.cmd().arg("lock").succeeds();
    let before = server.world.snapshot();
    let out = server
        .cmd()
        .args(["unlock", "--passphrase-stdin"])
        .stdin("not the passphrase\n")
        .fails();
    out.stderr_has("wrong passphrase for the file store");
    assert_eq!(out.code(), 1);
    assert_eq!(server.world.snapshot().0, before.0);
    server.locked_exec_fails("prod");
}

#[test]
fn a_damaged_secret_file_is_named_with_its_context() {
    let server = Server::new();
    server.add("prod", &pki().identity("ec"));
    let file = server.secret_file("prod", "client-key");
    let good = std::fs::read(&file).unwrap();
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    for (what, bytes) in [
        ("tampered", flipped),
        ("truncated", good[..good.len() / 2].to_vec()),
        ("empty", Vec::new()),
    ] {
        std::fs::write(&file, &bytes).unwrap();
        let out = server.cmd().args(["exec", "prod", "--", "true"]).fails();
        out.stderr_has("client key of context \"prod\"")
            .stderr_has(&file.display().to_string())
            .stderr_has("is damaged or was changed")
            .stderr_has("nomadctx set prod --key FILE");
        assert_eq!(out.code(), 1, "{what}");
    }
    std::fs::write(&file, &good).unwrap();
    server.cmd().args(["exec", "prod", "--", "true"]).succeeds();
}

#[test]
fn a_damaged_identity_is_named_and_nothing_is_unlocked() {
    let server = Server::new();
    server.add("prod", &pki().identity("ec"));
    server.cmd().arg("lock").succeeds();
    let identity = server.store_dir().join("identity.age");
    let good = std::fs::read(&identity).unwrap();
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    for bytes in [flipped, good[..40].to_vec()] {
        std::fs::write(&identity, &bytes).unwrap();
        server
            .cmd()
            .args(["unlock", "--passphrase-stdin"])
            .stdin(format!("{PASS}\n"))
            .fails()
            .stderr_has(&identity.display().to_string());
        server.locked_exec_fails("prod");
    }
}

#[test]
fn an_unlock_for_two_seconds_expires() {
    let server = Server::new();
    server.add("prod", &pki().identity("ec"));
    server
        .unlock(&["--for", "2s"])
        .stderr_has("unlocked for 2s");
    server.cmd().args(["exec", "prod", "--", "true"]).succeeds();
    std::thread::sleep(std::time::Duration::from_millis(3500));
    server.locked_exec_fails("prod");
    let zero = server
        .cmd()
        .args(["unlock", "--for", "0s", "--passphrase-stdin"])
        .stdin(format!("{PASS}\n"))
        .fails();
    assert_eq!(zero.code(), 2, "--for 0s is a usage error");
}

#[test]
fn thirty_two_execs_while_another_process_unlocks_see_the_key_or_a_clean_locked_error() {
    let server = Server::new();
    let id = pki().identity("ec");
    server.add("prod", &id);
    let script = "cmp -s \"$NOMAD_CLIENT_KEY\" \"$1\" || { echo wrong key >&2; exit 9; }";
    // From locked, and again while a second unlock replaces the cached identity.
    for round in ["locked", "unlocked"] {
        if round == "locked" {
            server.cmd().arg("lock").succeeds();
        }
        let unlock = spawn(
            server.cmd().args(["unlock", "--passphrase-stdin"]),
            &format!("{PASS}\n"),
        );
        let execs: Vec<_> = (0..32)
            .map(|_| {
                let mut run = server
                    .cmd()
                    .args(["exec", "prod", "--", "sh", "-c", script, "sh"])
                    .arg(&id.key);
                run.cmd
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                run.cmd.spawn().unwrap()
            })
            .collect();
        let mut ok = 0;
        for exec in execs {
            let out = exec.wait_with_output().unwrap();
            if out.status.success() {
                ok += 1;
            } else {
                assert_eq!(round, "locked", "{}", out.stderr_text());
                out.stderr_has("the file store is locked; run `nomadctx unlock`");
                assert_eq!(out.code(), 1);
            }
        }
        let unlocked = unlock.wait_with_output().unwrap();
        assert!(unlocked.status.success(), "{}", unlocked.stderr_text());
        if round == "unlocked" {
            assert_eq!(ok, 32);
        }
        server.cmd().args(["exec", "prod", "--", "true"]).succeeds();
    }
}

#[test]
fn no_plaintext_key_or_token_is_ever_on_disk() {
    // Token and passphrase made now, so that no other test's file holds them.
    let mut rng = Rng(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1);
    let token = format!("{:016x}-{:016x}", rng.next(), rng.next());
    let passphrase = format!("scan {:016x} {:016x}", rng.next(), rng.next());
    let server = Server::with_passphrase(&passphrase);
    // A key made for this test alone: other tests' worlds hold copies of the shared test
    // keys (a Wine prefix's %TEMP%, another world's key files), and one of them read here
    // failed this test at random.
    let dir = server.world.tmp.path().join("input");
    let id = pki().fresh_client(&dir);
    let key = id.key.clone();
    let pem = std::fs::read(&key).unwrap();
    let der = key_der(&key);
    let made_here = [key.clone(), dir.join("key.der")];
    let scan = |when: &str| {
        // Where nomadctx can write for this world, less the key files the test made.
        let needles = [&der[..], &pem[..], token.as_bytes(), passphrase.as_bytes()];
        let found = server.world.files_with_fresh_secrets(&needles, &made_here);
        assert!(found.is_empty(), "plaintext {when}: {found:?}");
    };
    scan("after keychain use file");
    add_args(server.cmd(), "prod", &id)
        .args(["--remove-key-file", "--token-stdin"])
        .stdin(token.clone())
        .succeeds();
    assert!(!key.exists());
    scan("after add");
    server.cmd().arg("lock").succeeds();
    server
        .cmd()
        .args(["unlock", "--passphrase-stdin"])
        .stdin(format!("{passphrase}\n"))
        .succeeds();
    scan("after unlock");
    // While a command runs with the key.
    let mut run = server
        .cmd()
        .args(["exec", "prod", "--", "sh", "-c", "echo up; read x; true"]);
    run.cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = run.cmd.spawn().unwrap();
    assert_eq!(first_line(child.stdout.as_mut().unwrap()), "up\n");
    scan("during exec");
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    server.move_to("keyutils");
    scan("after moving to the kernel keyring");
    server
        .cmd()
        .args(["keychain", "use", "file", "--migrate", "--passphrase-stdin"])
        .stdin(format!("{passphrase}\n"))
        .succeeds();
    scan("after moving back");
}

#[test]
fn the_passphrase_is_in_no_argv_child_environment_or_output() {
    let server = Server::new();
    server.add("prod", &pki().identity("ec"));
    let mut seen = String::new();
    for out in [
        server.cmd().arg("lock").succeeds(),
        server.unlock(&[]),
        server.cmd().arg("lock").succeeds(),
    ] {
        seen += &out.stdout_text();
        seen += &out.stderr_text();
    }
    // Opened with the passphrase from NOMADCTX_PASSPHRASE_FILE: the command, and nomadctx
    // itself while it runs the command (its parent), show the file's path, never its content.
    let file = server.passphrase_file(0o600);
    let out = server
        .cmd()
        .env("NOMADCTX_PASSPHRASE_FILE", &file)
        .args(["exec", "prod", "--", "sh", "-c"])
        .arg("env; tr '\\0' '\\n' < /proc/$PPID/cmdline; tr '\\0' '\\n' < /proc/$PPID/environ")
        .succeeds();
    out.stdout_has("NOMADCTX_PASSPHRASE_FILE=")
        .stdout_has("NOMAD_CLIENT_KEY=");
    seen += &out.stdout_text();
    seen += &out.stderr_text();
    for out in [
        server.cmd().arg("keychain").succeeds(),
        server.cmd().args(["show", "prod", "--json"]).succeeds(),
    ] {
        seen += &out.stdout_text();
        seen += &out.stderr_text();
    }
    assert!(!seen.contains(PASS), "{seen}");
}

#[test]
fn a_passphrase_file_must_be_private_and_then_unlocks_unattended() {
    let server = Server::new();
    server.add("prod", &pki().identity("ec"));
    server.cmd().arg("lock").succeeds();
    let file = server.passphrase_file(0o644);
    server
        .cmd()
        .env("NOMADCTX_PASSPHRASE_FILE", &file)
        .args(["exec", "prod", "--", "true"])
        .fails()
        .stderr_has("passphrase file")
        .stderr_has(&file.display().to_string());
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    server
        .cmd()
        .env("NOMADCTX_PASSPHRASE_FILE", &file)
        .args(["exec", "prod", "--", "true"])
        .succeeds();
    // and the store stays unlocked for the session
    server.cmd().args(["exec", "prod", "--", "true"]).succeeds();
}

#[test]
fn changing_the_passphrase_rewraps_the_identity_only() {
    let server = Server::new();
    let id = pki().identity("ec");
    server.add("prod", &id);
    let secrets: Vec<Vec<u8>> = server
        .secret_files()
        .iter()
        .map(|f| std::fs::read(f).unwrap())
        .collect();
    server
        .cmd()
        .args(["keychain", "passphrase", "--passphrase-stdin"])
        .stdin(format!("{PASS}\nnew passphrase\n"))
        .succeeds()
        .stderr_has("passphrase is changed");
    let after: Vec<Vec<u8>> = server
        .secret_files()
        .iter()
        .map(|f| std::fs::read(f).unwrap())
        .collect();
    assert_eq!(secrets, after);
    server.cmd().arg("lock").succeeds();
    server
        .cmd()
        .args(["unlock", "--passphrase-stdin"])
        .stdin(format!("{PASS}\n"))
        .fails()
        .stderr_has("wrong passphrase");
    server
        .cmd()
        .args(["unlock", "--passphrase-stdin"])
        .stdin("new passphrase\n")
        .succeeds();
    assert_eq!(server.exec_secrets("prod").0, key_der(&id.key));
}

#[test]
fn a_mistyped_passphrase_gets_three_tries_as_sudo_gives() {
    let server = Server::new();
    server.add("prod", &pki().identity("ec"));
    server.cmd().arg("lock").succeeds();
    let nsenter = format!(
        "nsenter --user --preserve-credentials -t {} {}",
        server.keys.holder_pid(),
        bin()
    );
    // Wrong twice, then right: the command runs.
    let script = format!("{nsenter} exec prod -- sh -c 'echo ran' && echo done");
    server.world.terminal(
        &[
            Step::Expect("Passphrase of nomadctx's file store: "),
            Step::Send("typo one\r"),
            Step::Expect(r"wrong passphrase .*; try again \(2 of 3\)"),
            Step::Expect("Passphrase of nomadctx's file store: "),
            Step::Send("typo two\r"),
            Step::Expect(r"try again \(3 of 3\)"),
            Step::Expect("Passphrase of nomadctx's file store: "),
            Step::Send(&format!("{PASS}\r")),
            Step::Expect("ran"),
            Step::Expect("done"),
        ],
        &["sh", "-c", &script],
        &[],
    );
    // Wrong three times: it gives up with the message, exit 1.
    server.cmd().arg("lock").succeeds();
    let script = format!("{nsenter} unlock; echo \"exit $?\"");
    server.world.terminal(
        &[
            Step::Expect("Passphrase of nomadctx's file store: "),
            Step::Send("one\r"),
            Step::Expect(r"\(2 of 3\)"),
            Step::Expect("Passphrase of nomadctx's file store: "),
            Step::Send("two\r"),
            Step::Expect(r"\(3 of 3\)"),
            Step::Expect("Passphrase of nomadctx's file store: "),
            Step::Send("three\r"),
            Step::Expect("nomadctx: wrong passphrase for the file store"),
            Step::Expect("exit 1"),
        ],
        &["sh", "-c", &script],
        &[],
    );
}

#[test]
fn a_locked_store_asks_once_on_the_terminal_and_the_session_keeps_it() {
    let server = Server::new();
    server.add("prod", &pki().identity("ec"));
    server.cmd().arg("lock").succeeds();
    let nsenter = format!(
        "nsenter --user --preserve-credentials -t {} {}",
        server.keys.holder_pid(),
        bin()
    );
    let script = format!(
        "{nsenter} exec prod -- sh -c 'echo first run' && {nsenter} exec prod -- sh -c 'echo second run' && echo done"
    );
    let screen = server.world.terminal(
        &[
            Step::Expect("Passphrase of nomadctx's file store: "),
            Step::Send(&format!("{PASS}\r")),
            Step::Expect("done"),
        ],
        &["sh", "-c", &script],
        &[],
    );
    assert_eq!(screen.matches("Passphrase of").count(), 1, "{screen}");
    assert!(screen.contains("first run") && screen.contains("second run"));
    assert!(
        !screen.contains(PASS),
        "the passphrase was echoed: {screen}"
    );
}

#[test]
fn the_age_tool_recovers_every_key_without_nomadctx() {
    let world = World::headless();
    let keys = KernelSession::new();
    // The real work factor, as a user's store has it.
    keys.cmd(&world)
        .env_remove("NOMADCTX_SCRYPT_LOG_N")
        .args(["keychain", "use", "file", "--passphrase-stdin"])
        .stdin(format!("{PASS}\n"))
        .succeeds();
    let id = pki().identity("rsa");
    add_args(keys.cmd(&world), "prod", &id).succeeds();
    let server = Server { world, keys };
    let file = server.secret_file("prod", "client-key");
    let identity = server.store_dir().join("identity.age");
    require_tool("age");
    let recovered = server.world.tmp.path().join("recovered.pem");
    let script = format!(
        "age -d -i '{}' '{}' | tail -n +2 | openssl pkey -inform DER -out '{}' && echo recovered",
        identity.display(),
        file.display(),
        recovered.display()
    );
    server.world.terminal(
        &[
            Step::Expect("(?i)passphrase"),
            Step::Send(&format!("{PASS}\r")),
            Step::Expect("recovered"),
        ],
        &["sh", "-c", &script],
        &[],
    );
    assert_eq!(key_der(&recovered), key_der(&id.key));
}

#[test]
fn the_keychain_choice_is_remembered_and_a_misplaced_line_is_explained() {
    let server = Server::new();
    server.add("prod", &pki().identity("ec"));
    let config = server.world.config_dir.join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("keychain = \"file\""));
    // As a user appends it: after the last context's table.
    std::fs::write(&config, format!("{text}keychain = \"keyutils\"\n")).unwrap();
    server
        .cmd()
        .arg("list")
        .fails()
        .stderr_has("`keychain = ...` is inside the table [contexts.prod]")
        .stderr_has("belong at the top of the file");
}

#[test]
fn keychain_use_migrate_round_trips_through_every_keychain_and_leaves_nothing_behind() {
    let server = Server {
        world: World::new(),
        keys: KernelSession::new(),
    };
    let id = pki().identity("ec");
    server.add("prod", &id);
    let want = (key_der(&id.key), TOKEN.to_owned());
    assert_eq!(server.world.keychain_accounts().len(), 2);
    let items_in = |backend: &str| {
        server
            .cmd()
            .env("NOMADCTX_KEYCHAIN", backend)
            .arg("keychain")
            .succeeds()
            .stdout_text()
    };

    server
        .cmd()
        .args(["keychain", "use", "file", "--migrate", "--passphrase-stdin"])
        .stdin(format!("{PASS}\n"))
        .succeeds()
        .stderr_has("moved 2 secret(s) from the Secret Service to the file store");
    assert_eq!(server.exec_secrets("prod"), want);
    assert_eq!(server.world.keychain_accounts(), Vec::<String>::new());
    assert_eq!(server.secret_files().len(), 2);

    server
        .cmd()
        .args(["keychain", "use", "keyutils", "--migrate"])
        .succeeds()
        .stderr_has("moved 2 secret(s)");
    assert_eq!(server.exec_secrets("prod"), want);
    assert_eq!(server.secret_files(), Vec::<PathBuf>::new());
    assert!(items_in("keyutils").contains("2 item(s) of this configuration"));

    server
        .cmd()
        .args(["keychain", "use", "secret-service", "--migrate"])
        .succeeds();
    assert_eq!(server.exec_secrets("prod"), want);
    assert_eq!(server.world.keychain_accounts().len(), 2);
    assert!(items_in("keyutils").contains("0 item(s) of this configuration"));
    assert!(items_in("file").contains("0 item(s) of this configuration"));
    assert!(
        !server.world.config_dir.join("moving").exists(),
        "the move's journal stayed"
    );
    doctor_agrees(server.cmd());
}

#[test]
fn a_move_killed_at_any_step_loses_nothing_and_the_next_run_clears_what_it_left() {
    let id = pki().identity("ec");
    let id2 = pki().identity("ec2");
    for step in ["move-written", "move-committed", "move-removed"] {
        let server = Server::new();
        server.add("prod", &id);
        server.add("dev", &id2);
        kill_at_step(
            server
                .cmd()
                .args(["keychain", "use", "keyutils", "--migrate"]),
            "",
            step,
        );
        // Whichever keychain config.toml names now has every secret.
        assert_eq!(server.exec_secrets("prod").0, key_der(&id.key), "{step}");
        assert_eq!(server.exec_secrets("dev").0, key_der(&id2.key), "{step}");
        server
            .cmd()
            .args(["keychain", "use", "keyutils", "--migrate"])
            .succeeds();
        assert_eq!(
            server.exec_secrets("prod"),
            (key_der(&id.key), TOKEN.to_owned())
        );
        assert_eq!(server.secret_files(), Vec::<PathBuf>::new(), "{step}");
        server
            .cmd()
            .arg("keychain")
            .succeeds()
            .stdout_has("4 item(s) of this configuration, 4 in use");
        assert!(!server.world.config_dir.join("moving").exists(), "{step}");
    }
}

#[test]
fn switching_without_migrate_refuses_to_strand_secrets() {
    let server = Server::new();
    server.add("prod", &pki().identity("ec"));
    let before = server.world.snapshot();
    server
        .cmd()
        .args(["keychain", "use", "keyutils"])
        .fails()
        .stderr_has("are in the file store, not in the kernel keyring")
        .stderr_has("nomadctx keychain use keyutils --migrate");
    assert_eq!(server.world.snapshot().0, before.0);
}

#[test]
fn keychain_use_is_refused_while_nomadctx_keychain_overrides_the_config() {
    let server = Server::new();
    server.add("prod", &pki().identity("ec"));
    let before = server.world.snapshot();
    server
        .cmd()
        .env("NOMADCTX_KEYCHAIN", "keyutils")
        .args(["keychain", "use", "keyutils", "--migrate"])
        .fails()
        .stderr_has("NOMADCTX_KEYCHAIN=keyutils is set")
        .stderr_has("unset NOMADCTX_KEYCHAIN");
    assert_eq!(server.world.snapshot().0, before.0);
}

#[test]
fn a_config_and_a_store_that_do_not_belong_together_are_refused() {
    let server = Server::new();
    server.add("prod", &pki().identity("ec"));
    let config = server.world.config_dir.join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let ours = text
        .lines()
        .find_map(|l| l.strip_prefix("file_recipient = "))
        .unwrap()
        .trim_matches('"')
        .to_owned();
    // Another store's recipient (age's own test vector).
    let other = "age1t7rxyev2z3rw82stdlrrepyc39nvn86l5078zqkf5uasdy86jp6svpy7pa";
    std::fs::write(&config, text.replace(&ours, other)).unwrap();
    // The cached identity is not taken for the other recipient, nor is the passphrase.
    server.locked_exec_fails("prod");
    server
        .cmd()
        .args(["unlock", "--passphrase-stdin"])
        .stdin(format!("{PASS}\n"))
        .fails()
        .stderr_has("does not belong to config.toml's file_recipient");
}

#[test]
fn a_move_into_a_store_whose_identity_no_longer_opens_is_refused_and_loses_nothing() {
    let server = Server::new();
    let id = pki().identity("ec");
    server.add("prod", &id);
    server.move_to("keyutils");
    // The store is still unlocked in this session, but its identity.age is damaged.
    let identity = server.store_dir().join("identity.age");
    let good = std::fs::read(&identity).unwrap();
    std::fs::write(&identity, &good[..good.len() - 5]).unwrap();
    server
        .cmd()
        .args(["keychain", "use", "file", "--migrate", "--passphrase-stdin"])
        .stdin(format!("{PASS}\n"))
        .fails()
        .stderr_has(&identity.display().to_string());
    assert_eq!(
        server.exec_secrets("prod"),
        (key_der(&id.key), TOKEN.to_owned())
    );
    assert!(
        std::fs::read_to_string(server.world.config_dir.join("config.toml"))
            .unwrap()
            .contains("keychain = \"keyutils\"")
    );
}

#[test]
fn keychain_says_when_the_kernel_keyring_lost_the_secrets_at_reboot() {
    let mut server = Server {
        world: World::headless(),
        keys: KernelSession::new(),
    };
    server
        .cmd()
        .args(["keychain", "use", "keyutils"])
        .succeeds();
    server.add("prod", &pki().identity("ec"));
    server.keys = KernelSession::new();
    server
        .cmd()
        .arg("keychain")
        .succeeds()
        .stdout_has("durable:    no: it forgets every key at reboot")
        .stdout_has("0 item(s) of this configuration, 2 in use; 2 MISSING");
}

#[test]
fn a_store_left_for_another_keychain_can_be_unlocked_to_move_back_into_it() {
    let server = Server::new();
    let id = pki().identity("ec");
    server.add("prod", &id);
    server.move_to("keyutils");
    // Moving out locked it; moving back asks for the passphrase, here from the file.
    server
        .cmd()
        .arg("keychain")
        .succeeds()
        .stdout_has("keychain:   keyutils");
    let out = server
        .cmd()
        .args(["keychain", "use", "file", "--migrate"])
        .fails();
    out.stderr_has("its passphrase is needed to move secrets into it")
        .stderr_has("--passphrase-stdin");
    assert!(
        !out.stderr_text().contains("os error"),
        "{}",
        out.stderr_text()
    );
    server.unlock(&[]);
    let file = server.passphrase_file(0o600);
    server
        .cmd()
        .env("NOMADCTX_PASSPHRASE_FILE", &file)
        .args(["keychain", "use", "file", "--migrate"])
        .succeeds();
    assert_eq!(
        server.exec_secrets("prod"),
        (key_der(&id.key), TOKEN.to_owned())
    );
}

#[test]
fn ctrl_c_at_the_passphrase_prompt_cancels_and_gives_the_terminal_back() {
    let server = Server::new();
    server.add("prod", &pki().identity("ec"));
    server.cmd().arg("lock").succeeds();
    let script = format!(
        "nsenter --user --preserve-credentials -t {} {} exec prod -- true; echo status=$?; stty -a | tr ' ;' '\\n\\n' | grep -x -e echo -e -echo",
        server.keys.holder_pid(),
        bin()
    );
    server.world.terminal(
        &[
            Step::Expect("Passphrase of nomadctx's file store: "),
            Step::Send("half a pass\x03"),
            Step::Expect("cancelled; nothing was changed"),
            Step::Expect("status=1"),
            Step::Expect("(?m)^echo$"),
        ],
        &["sh", "-c", &script],
        &[],
    );
    server.locked_exec_fails("prod");
}
