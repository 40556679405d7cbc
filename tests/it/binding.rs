//! Each file-store secret is bound to its store, context, kind and version inside its
//! encryption: a file copied over another's, or made with the `age` tool to the store's
//! recipient, is refused by name; a store written before the binding is bound once.

use std::path::PathBuf;

use crate::harness::*;

const PASS: &str = "correct horse battery staple";
const PROD_TOKEN: &str = "11111111-prod-4e8f-9a0b-c4d2e6f8a1b3";
const STAGING_TOKEN: &str = "22222222-stag-4e8f-9a0b-c4d2e6f8a1b3";

/// A server whose file store holds prod and staging, each with a key and its own token.
struct Server {
    world: World,
    keys: KernelSession,
}

impl Server {
    fn new() -> Self {
        let server = Self {
            world: World::headless(),
            keys: KernelSession::new(),
        };
        server
            .cmd()
            .args(["keychain", "use", "file", "--passphrase-stdin"])
            .stdin(format!("{PASS}\n"))
            .succeeds();
        for (name, id, token) in [
            ("prod", pki().identity("ec"), PROD_TOKEN),
            ("staging", pki().identity("ec2"), STAGING_TOKEN),
        ] {
            add_args(server.cmd(), name, &id)
                .arg("--token-stdin")
                .stdin(token)
                .succeeds();
        }
        server
    }

    fn cmd(&self) -> Run {
        self.keys.cmd(&self.world)
    }

    fn store_dir(&self) -> PathBuf {
        let store = self.world.config().store.expect("a store id");
        self.world.home.join(".local/share/nomadctx").join(store)
    }

    /// The age file config.toml names for `NAME/KIND`.
    fn secret_file(&self, name_kind: &str) -> PathBuf {
        let account = self.world.live_account(name_kind).unwrap();
        let (_, rest) = account.split_once('/').unwrap();
        self.store_dir()
            .join("secrets")
            .join(format!("{}.age", rest.replace('/', ".")))
    }

    /// Writes `plain` to `file` as the `age` tool encrypts it to config.toml's recipient:
    /// what anyone who can read config.toml can make without the passphrase.
    fn age_encrypt(&self, plain: &[u8], file: &PathBuf) {
        require_tool("age");
        let recipient = self.world.config().file_recipient.unwrap();
        let out = self
            .world
            .program("age")
            .args(["-r", &recipient, "-o"])
            .arg(file)
            .stdin(plain.to_vec())
            .output();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `exec staging` is refused, naming the context and the file.
    fn staging_token_refused(&self, why: &str) {
        let file = self.secret_file("staging/token");
        self.cmd()
            .args(["exec", "staging", "--", "printenv", "NOMAD_TOKEN"])
            .fails()
            .stderr_has("the ACL token of context \"staging\" could not be read")
            .stderr_has(&file.display().to_string())
            .stderr_has(why);
        self.cmd()
            .arg("doctor")
            .fails()
            .stderr_has("1 problem(s)")
            .stderr_has("context \"staging\"")
            .stderr_has(why);
    }
}

#[test]
fn a_token_file_copied_over_another_contexts_is_refused_by_name() {
    let server = Server::new();
    std::fs::copy(
        server.secret_file("prod/token"),
        server.secret_file("staging/token"),
    )
    .unwrap();
    server.staging_token_refused("it was written for another item");
    assert_eq!(exec_sees(server.cmd(), "prod", "NOMAD_TOKEN"), PROD_TOKEN);
}

#[test]
fn a_token_made_with_the_age_tool_to_the_recipient_is_refused() {
    let server = Server::new();
    server.age_encrypt(b"forged-token", &server.secret_file("staging/token"));
    server.staging_token_refused("nomadctx did not write it");
}

#[test]
fn a_store_written_before_the_binding_is_bound_once_at_unlock_and_then_refuses_unbound_files() {
    let server = Server::new();
    // The files as nomadctx wrote them before: the secret alone, and no file_bound line.
    let key = server
        .cmd()
        .args([
            "exec",
            "prod",
            "--",
            "sh",
            "-c",
            "cat \"$NOMAD_CLIENT_KEY\"",
        ])
        .succeeds()
        .stdout;
    let key_der = {
        use rustls_pki_types::pem::PemObject;
        rustls_pki_types::PrivateKeyDer::from_pem_slice(&key)
            .unwrap()
            .secret_der()
            .to_vec()
    };
    server.age_encrypt(&key_der, &server.secret_file("prod/client-key"));
    server.age_encrypt(PROD_TOKEN.as_bytes(), &server.secret_file("prod/token"));
    server.age_encrypt(
        STAGING_TOKEN.as_bytes(),
        &server.secret_file("staging/token"),
    );
    let config = server.world.config_dir.join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("file_bound = true\n"), "{text}");
    std::fs::write(&config, text.replace("file_bound = true\n", "")).unwrap();
    server.cmd().arg("lock").succeeds();
    let before = server.world.config();
    server
        .cmd()
        .args(["unlock", "--passphrase-stdin"])
        .stdin(format!("{PASS}\n"))
        .succeeds()
        .stderr_has("secrets now carry the store, context, kind and version");
    let after = server.world.config();
    assert!(after.file_bound);
    assert_ne!(
        after.contexts["prod"].token_version,
        before.contexts["prod"].token_version
    );
    assert_eq!(exec_sees(server.cmd(), "prod", "NOMAD_TOKEN"), PROD_TOKEN);
    assert_eq!(
        exec_sees(server.cmd(), "staging", "NOMAD_TOKEN"),
        STAGING_TOKEN
    );
    let files = std::fs::read_dir(server.store_dir().join("secrets"))
        .unwrap()
        .count();
    assert_eq!(files, 4, "the unbound files stayed");
    doctor_agrees(server.cmd());
    // Once: the next unlock binds nothing again.
    let out = server
        .cmd()
        .args(["unlock", "--passphrase-stdin"])
        .stdin(format!("{PASS}\n"))
        .succeeds();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("now carry"));
    assert_eq!(server.world.config(), after);
    // And a file without the binding is refused from now on.
    server.age_encrypt(
        STAGING_TOKEN.as_bytes(),
        &server.secret_file("staging/token"),
    );
    server.staging_token_refused("nomadctx did not write it");
}

#[test]
fn a_copied_configuration_directory_binds_its_file_store_secrets_to_its_own_store() {
    let server = Server::new();
    let copy = server.world.home.join("copy");
    let out = std::process::Command::new("cp")
        .arg("-a")
        .arg(&server.world.config_dir)
        .arg(&copy)
        .output()
        .unwrap();
    assert!(out.status.success());
    let in_copy = || server.cmd().env("NOMADCTX_CONFIG_DIR", &copy);
    // Locked, with nobody to ask: refused, saying why and what to do.
    server.cmd().arg("lock").succeeds();
    in_copy()
        .args(["exec", "prod", "--", "true"])
        .fails()
        .stderr_has("is a copy of another configuration's directory")
        .stderr_has("nomadctx unlock");
    in_copy()
        .args(["unlock", "--passphrase-stdin"])
        .stdin(format!("{PASS}\n"))
        .succeeds()
        .stderr_has("is a copy of another configuration's directory");
    assert_ne!(server.world.config().store, {
        let text = std::fs::read(copy.join("config.toml")).unwrap();
        nomadctx::testing::parse_config(&text, &copy).unwrap().store
    });
    assert_eq!(
        exec_sees(in_copy(), "staging", "NOMAD_TOKEN"),
        STAGING_TOKEN
    );
    assert_eq!(
        exec_sees(server.cmd(), "staging", "NOMAD_TOKEN"),
        STAGING_TOKEN
    );
    doctor_agrees(in_copy());
    doctor_agrees(server.cmd());
}
