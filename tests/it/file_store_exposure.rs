//! The file store against what another process of the user can do to it: a named pipe put
//! where a secret, the identity or the passphrase file should be must not hang nomadctx, and
//! `exec`'s memory, read while its command runs, must hold nothing that opens the store.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use crate::harness::*;
use crate::hygiene::memory_holding;

const PASS: &str = "passphrase-that-no-heap-keeps-4c1d";
const TOKEN: &str = "9e2d7c41-5b3a-4f86-a0c2-exposure-token";

/// A file store with context `prod` (a key and [`TOKEN`]), made in a kernel session of its
/// own; each test reads it from sessions it chooses.
struct Store {
    world: World,
    made_in: KernelSession,
}

impl Store {
    fn new() -> Self {
        let store = Self {
            world: World::headless(),
            made_in: KernelSession::new(),
        };
        store
            .made_in
            .cmd(&store.world)
            .args(["keychain", "use", "file", "--passphrase-stdin"])
            .stdin(format!("{PASS}\n"))
            .succeeds();
        add_args(
            store.made_in.cmd(&store.world),
            "prod",
            &pki().identity("ec"),
        )
        .arg("--token-stdin")
        .stdin(TOKEN)
        .succeeds();
        store
    }

    fn dir(&self) -> PathBuf {
        let id = self.world.config().store.expect("a store id");
        self.world.home.join(".local/share/nomadctx").join(id)
    }

    /// A private NOMADCTX_PASSPHRASE_FILE holding [`PASS`].
    fn passphrase_file(&self) -> PathBuf {
        let file = self.world.home.join("passphrase");
        std::fs::write(&file, format!("{PASS}\n")).unwrap();
        chmod(&file, 0o600);
        file
    }

    /// The identity as identity.age holds it (`AGE-SECRET-KEY-1...`), opened with the
    /// passphrase as the age tool would.
    fn identity(&self) -> String {
        use age::secrecy::SecretString;
        let ciphertext = std::fs::read(self.dir().join("identity.age")).unwrap();
        let passphrase = age::scrypt::Identity::new(SecretString::from(PASS.to_owned()));
        let mut text = String::new();
        age::Decryptor::new_buffered(&ciphertext[..])
            .unwrap()
            .decrypt(std::iter::once(&passphrase as &dyn age::Identity))
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text.lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
            .expect("an identity line")
            .to_owned()
    }
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_named_pipe_for_a_secret_the_identity_or_the_passphrase_file_is_refused_at_once() {
    let store = Store::new();
    let passphrase = store.passphrase_file();
    let secrets = store.dir().join("secrets");
    let token_file = std::fs::read_dir(&secrets)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains(".token."))
        .expect("the token's file");
    let identity = store.dir().join("identity.age");
    let pipe = store.world.home.join("passphrase.pipe");
    mkfifo(&pipe);

    let mut cases = vec![(token_file.clone(), passphrase.clone())];
    cases.push((identity.clone(), passphrase.clone()));
    cases.push((pipe.clone(), pipe.clone()));
    for (fifo, passphrase_file) in cases {
        // The store's file, put back after its case (reading the pipe would block).
        let kept = (fifo != pipe).then(|| std::fs::read(&fifo).unwrap());
        if kept.is_some() {
            mkfifo(&fifo);
        }
        // A session with nothing cached: the identity comes from the passphrase file.
        let out = ends_in_time(
            KernelSession::new()
                .cmd(&store.world)
                .env("NOMADCTX_PASSPHRASE_FILE", &passphrase_file)
                .args(["exec", "prod", "--", "true"]),
        );
        let stderr = out.stderr_text();
        assert_eq!(out.status.code(), Some(1), "{}: {stderr}", fifo.display());
        assert!(
            stderr.contains(&fifo.display().to_string()) && stderr.contains("a named pipe"),
            "the message names neither the file nor what it is: {stderr}"
        );
        if let Some(bytes) = kept {
            std::fs::remove_file(&fifo).unwrap();
            std::fs::write(&fifo, bytes).unwrap();
            chmod(&fifo, 0o600);
        }
    }
}

/// The X25519 scalar of an `AGE-SECRET-KEY-1...` line, as Bech32 decodes it: the 5-bit
/// groups (one a byte, as a decoder holds them) and the 32 bytes.
fn scalar_forms(identity: &str) -> (Vec<u8>, Vec<u8>) {
    const CHARSET: &str = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    let data = &identity.to_ascii_lowercase()["age-secret-key-1".len()..];
    let groups: Vec<u8> = data[..data.len() - 6]
        .chars()
        .map(|c| CHARSET.find(c).unwrap() as u8)
        .collect();
    let (mut bytes, mut acc, mut bits) = (Vec::new(), 0u32, 0);
    for group in &groups {
        acc = (acc << 5) | u32::from(*group);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            bytes.push((acc >> bits) as u8);
        }
    }
    assert_eq!(bytes.len(), 32);
    (groups, bytes)
}

/// `exec prod` started in `run`, once its command says it is running (and then waits).
fn exec_running(run: Run) -> Child {
    let mut child = run
        .args([
            "exec",
            "prod",
            "--",
            "sh",
            "-c",
            "echo running; exec sleep 60",
        ])
        .cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let line = first_line(child.stdout.as_mut().unwrap());
    if line.trim() != "running" {
        let mut stderr = String::new();
        let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
        panic!("exec did not start its command: {stderr}");
    }
    // nsenter runs nomadctx in its own place: the pid is nomadctx's.
    let exe = std::fs::read_link(format!("/proc/{}/exe", child.id())).unwrap();
    assert!(
        exe.ends_with("nomadctx"),
        "{} is not nomadctx",
        exe.display()
    );
    child
}

/// What of the identity, the passphrase and the token nomadctx's memory holds while its
/// command runs.
fn exposed_while_running(store: &Store, run: Run) -> Vec<String> {
    let identity = store.identity();
    let (groups, scalar) = scalar_forms(&identity);
    let data = &identity["AGE-SECRET-KEY-1".len()..];
    let lower = data.to_ascii_lowercase();
    let needles: [(&str, &[u8]); 6] = [
        ("the identity", data.as_bytes()),
        ("the identity in lower case", lower.as_bytes()),
        // Bytes 1..31: the scalar as stored and as clamped for use.
        ("the X25519 scalar", &scalar[1..31]),
        ("the scalar's 5-bit groups", &groups[..48]),
        ("the passphrase", PASS.as_bytes()),
        ("the token", TOKEN.as_bytes()),
    ];
    let child = exec_running(run);
    let raw: Vec<&[u8]> = needles.iter().map(|(_, n)| *n).collect();
    let found = memory_holding(child.id(), &raw);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = child.wait_with_output();
    found
        .iter()
        .map(|hit| {
            let i: usize = hit["needle ".len()..]
                .split(' ')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            format!("{} ({hit})", needles[i].0)
        })
        .collect()
}

#[test]
fn exec_with_the_passphrase_file_keeps_nothing_that_opens_the_store_while_the_command_runs() {
    let store = Store::new();
    let passphrase = store.passphrase_file();
    // A session of its own, where nothing is cached: the passphrase file unlocks.
    let session = KernelSession::new();
    let found = exposed_while_running(
        &store,
        session
            .cmd(&store.world)
            .env("NOMADCTX_PASSPHRASE_FILE", &passphrase),
    );
    assert!(found.is_empty(), "exec's memory holds: {found:?}");
}

#[test]
fn exec_with_a_cached_unlock_keeps_nothing_that_opens_the_store_while_the_command_runs() {
    let store = Store::new();
    let session = KernelSession::new();
    session
        .cmd(&store.world)
        .args(["unlock", "--passphrase-stdin"])
        .stdin(format!("{PASS}\n"))
        .succeeds();
    let found = exposed_while_running(&store, session.cmd(&store.world));
    assert!(found.is_empty(), "exec's memory holds: {found:?}");
}
