//! `keychain passphrase --rekey`: a new identity retires the old one (an old identity.age and
//! its passphrase open nothing stored afterwards), as one change a SIGKILL cannot break.

use std::io::Read;
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;

use crate::harness::*;

const PASS: &str = "correct horse battery staple";
const NEW_PASS: &str = "a new passphrase for the store";
const TOKEN: &str = "5f3b7a6e-2c1d-4e8f-9a0b-c4d2e6f8a1b3";
const NEW_TOKEN: &str = "0d9e8c7b-6a5f-4e3d-2c1b-a09f8e7d6c5b";

/// A server (no D-Bus, a kernel session of its own) whose file store has contexts prod and
/// dev, each with a client key and [`TOKEN`].
struct Server {
    world: World,
    keys: KernelSession,
}

impl Server {
    fn new(ids: &[(&str, &Identity)]) -> Self {
        let server = Self {
            world: World::headless(),
            keys: KernelSession::new(),
        };
        server
            .cmd()
            .args(["keychain", "use", "file", "--passphrase-stdin"])
            .stdin(format!("{PASS}\n"))
            .succeeds();
        for (name, id) in ids {
            add_args(server.cmd(), name, id)
                .arg("--token-stdin")
                .stdin(TOKEN)
                .succeeds();
        }
        server
    }

    fn cmd(&self) -> Run {
        self.keys.cmd(&self.world)
    }

    fn rekey(&self) -> Run {
        self.cmd()
            .args(["keychain", "passphrase", "--rekey", "--passphrase-stdin"])
    }

    fn store_dir(&self) -> PathBuf {
        let store = self.world.config().store.expect("a store id");
        self.world.home.join(".local/share/nomadctx").join(store)
    }

    fn secret_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.store_dir().join("secrets"))
            .map(|dir| dir.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        files.sort();
        files
    }

    /// The age file config.toml names for `NAME/KIND`.
    fn secret_file(&self, name_kind: &str) -> PathBuf {
        let account = self.world.live_account(name_kind).unwrap();
        let (_, rest) = account.split_once('/').unwrap();
        self.store_dir()
            .join("secrets")
            .join(format!("{}.age", rest.replace('/', ".")))
    }

    /// Locks the store, then unlocks it with `passphrase`.
    fn unlock(&self, passphrase: &str) -> std::process::Output {
        self.cmd().arg("lock").succeeds();
        self.cmd()
            .args(["unlock", "--passphrase-stdin"])
            .stdin(format!("{passphrase}\n"))
            .output()
    }

    /// The token `exec NAME` hands its command.
    fn token(&self, name: &str) -> String {
        exec_sees(self.cmd(), name, "NOMAD_TOKEN")
    }

    fn key(&self, name: &str) -> Vec<u8> {
        let out = exec_cat_key(self.cmd(), name).succeeds();
        use rustls_pki_types::pem::PemObject;
        rustls_pki_types::PrivateKeyDer::from_pem_slice(&out.stdout)
            .expect("a PEM key on stdout")
            .secret_der()
            .to_vec()
    }
}

/// What someone holding an old identity.age and its passphrase reads from `file`, as the
/// `age` tool would (`age -d -i identity.age FILE`), without nomadctx.
fn open_with_old_identity(identity_age: &[u8], passphrase: &str, file: &Path) -> Option<Vec<u8>> {
    let decrypt = |identity: &dyn age::Identity, bytes: &[u8]| -> Option<Vec<u8>> {
        let decryptor = age::Decryptor::new_buffered(bytes).ok()?;
        let mut plain = Vec::new();
        decryptor
            .decrypt(std::iter::once(identity))
            .ok()?
            .read_to_end(&mut plain)
            .ok()?;
        Some(plain)
    };
    let scrypt = age::scrypt::Identity::new(SecretString::from(passphrase.to_owned()));
    let text = String::from_utf8(
        decrypt(&scrypt, identity_age).expect("the old identity.age opens with the old passphrase"),
    )
    .unwrap();
    let identity: age::x25519::Identity = text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap()
        .parse()
        .unwrap();
    decrypt(&identity, &std::fs::read(file).unwrap())
}

#[test]
fn after_a_rekey_an_old_identity_and_passphrase_open_no_new_secret() {
    let id = pki().identity("ec");
    let server = Server::new(&[("prod", &id)]);
    let identity_path = server.store_dir().join("identity.age");
    let old_identity = std::fs::read(&identity_path).unwrap();
    let old_recipient = server.world.config().file_recipient.unwrap();
    // Before: the old identity opens the token (what a backup plus a leaked passphrase give).
    assert!(
        open_with_old_identity(&old_identity, PASS, &server.secret_file("prod/token"))
            .is_some_and(|p| contains(&p, TOKEN.as_bytes()))
    );

    server
        .rekey()
        .stdin(format!("{PASS}\n{NEW_PASS}\n"))
        .succeeds()
        .stderr_has("new identity")
        .stderr_has("open nothing stored from now on");
    assert_ne!(server.world.config().file_recipient.unwrap(), old_recipient);
    server
        .cmd()
        .args(["set", "prod", "--token-stdin"])
        .stdin(NEW_TOKEN)
        .succeeds();
    assert_eq!(server.token("prod"), NEW_TOKEN);
    assert_eq!(server.key("prod"), key_der(&id.key));

    // The old identity opens none of the store's files, the new token's least of all.
    for file in server.secret_files() {
        assert_eq!(
            open_with_old_identity(&old_identity, PASS, &file),
            None,
            "{} opens with the old identity",
            file.display()
        );
    }
    // Put back, it is refused, and nothing hands out the new token.
    std::fs::write(&identity_path, &old_identity).unwrap();
    let out = server.unlock(PASS);
    assert!(!out.status.success());
    out.stderr_has("does not belong to config.toml's file_recipient");
    let out = server
        .cmd()
        .args(["exec", "prod", "--", "printenv", "NOMAD_TOKEN"])
        .output();
    assert!(!contains(&out.stdout, NEW_TOKEN.as_bytes()));
}

#[test]
fn the_new_passphrase_opens_the_store_and_the_old_one_does_not() {
    let id = pki().identity("ec");
    let server = Server::new(&[("prod", &id)]);
    server
        .rekey()
        .stdin(format!("{PASS}\n{NEW_PASS}\n"))
        .succeeds();
    server.unlock(PASS).stderr_has("wrong passphrase");
    assert!(server.unlock(NEW_PASS).status.success());
    assert_eq!(server.token("prod"), TOKEN);
    assert_eq!(server.secret_files().len(), 2, "the old files stayed");
    doctor_agrees(server.cmd());
}

#[test]
fn plain_passphrase_says_what_it_does_not_protect_and_names_rekey() {
    let server = Server::new(&[]);
    server
        .cmd()
        .args(["keychain", "passphrase", "--passphrase-stdin"])
        .stdin(format!("{PASS}\n{NEW_PASS}\n"))
        .succeeds()
        .stderr_has("a copy of the old identity.age (a backup) still opens with the old passphrase")
        .stderr_has("nomadctx keychain passphrase --rekey");
    server
        .cmd()
        .args(["keychain", "passphrase", "--help"])
        .succeeds()
        .stdout_has("--rekey")
        .stdout_has("an old copy of identity.age");
}

#[test]
fn a_rekey_with_a_secret_file_no_context_names_changes_nothing() {
    let server = Server::new(&[("prod", &pki().identity("ec"))]);
    let stray = server.store_dir().join("secrets").join(format!(
        "{}.token.0123456789abcdef.age",
        server.world.config().contexts["prod"].id()
    ));
    std::fs::copy(server.secret_file("prod/token"), &stray).unwrap();
    let snapshot = || {
        let mut store = std::collections::BTreeMap::new();
        collect_files(&server.store_dir(), &mut store);
        (server.world.snapshot(), store)
    };
    let before = snapshot();
    server
        .rekey()
        .stdin(format!("{PASS}\n{NEW_PASS}\n"))
        .fails()
        .stderr_has("no context names")
        .stderr_has("nomadctx doctor --repair");
    assert!(snapshot() == before, "the refused re-key changed something");
}

#[test]
fn a_rekey_killed_at_any_step_leaves_one_whole_store_and_the_next_command_settles_it() {
    let prod = pki().identity("ec");
    let dev = pki().identity("ec2");
    let steps = [
        ("rekey-planned", false),
        ("rekey-identity-written", false),
        ("rekey-written", false),
        ("save-config", false),
        ("rekey-committed", true),
        ("rekey-identity-replaced", true),
        ("rekey-removed", true),
    ];
    for (step, committed) in steps {
        let server = Server::new(&[("prod", &prod), ("dev", &dev)]);
        let before = server.world.config();
        kill_at_step(server.rekey(), &format!("{PASS}\n{NEW_PASS}\n"), step);
        // The next command finishes or undoes it: one passphrase opens everything.
        let (right, wrong) = if committed {
            (NEW_PASS, PASS)
        } else {
            (PASS, NEW_PASS)
        };
        assert!(
            server.unlock(right).status.success(),
            "{step}: the store does not open with {right:?}"
        );
        assert!(!server.unlock(wrong).status.success(), "{step}");
        assert!(server.unlock(right).status.success(), "{step}");
        for (name, id) in [("prod", &prod), ("dev", &dev)] {
            assert_eq!(server.key(name), key_der(&id.key), "{step}: {name}");
            assert_eq!(server.token(name), TOKEN, "{step}: {name}");
        }
        assert_eq!(
            server.world.config().file_recipient != before.file_recipient,
            committed,
            "{step}"
        );
        assert_eq!(server.secret_files().len(), 4, "{step}: files left behind");
        assert!(
            !server.store_dir().join("identity-next.age").exists(),
            "{step}"
        );
        assert!(
            !server.world.config_dir.join("rekey.toml").exists(),
            "{step}"
        );
        doctor_agrees(server.cmd());
        // And a re-key run again from there goes through.
        server
            .rekey()
            .stdin(format!("{right}\n{PASS}\n"))
            .succeeds();
        assert!(server.unlock(PASS).status.success(), "{step}");
        assert_eq!(server.token("dev"), TOKEN, "{step}");
    }
}
