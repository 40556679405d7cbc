//! `add --from-dir` on directories laid out as the guide's cfssl commands and `nomad tls`
//! lay them out, `add --from-env` from the guide's exports, CA directories and bundles.

use std::path::{Path, PathBuf};

use crate::harness::{Identity, OutputExt, Run, World, add_cmd, key_der, pki, show_json};

/// A directory holding pki files under the given names: (name in dir, pki file).
fn layout(world: &World, dir: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = world.tmp.path().join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, source) in files {
        std::fs::copy(pki().path(source), dir.join(name)).unwrap();
    }
    dir
}

/// `add prod --address ADDRESS --from-dir DIR`, not yet run.
fn add_from_dir(world: &World, address: &str, dir: &Path) -> Run {
    world
        .cmd()
        .args(["add", "prod", "--address", address, "--from-dir"])
        .arg(dir)
}

#[test]
fn from_dir_picks_the_cli_files_of_a_cfssl_layout() {
    let world = World::new();
    let dir = layout(
        &world,
        "cfssl",
        &[
            ("nomad-ca.pem", "ca.pem"),
            ("nomad-ca-key.pem", "ca-key.pem"),
            ("nomad-ca.csr", "ec.csr"),
            ("server.pem", "server.pem"),
            ("server-key.pem", "server-key.pem"),
            ("client.pem", "ec2.pem"),
            ("client-key.pem", "ec2-key.pem"),
            ("cli.pem", "ec.pem"),
            ("cli-key.pem", "ec-key.pem"),
        ],
    );
    add_from_dir(&world, "https://127.0.0.1:4646", &dir).succeeds();
    assert_eq!(
        world.secret("prod/client-key").unwrap(),
        key_der(&dir.join("cli-key.pem"))
    );
    assert!(
        dir.join("cli-key.pem").exists(),
        "the key file stays unless asked"
    );
}

#[test]
fn from_dir_picks_the_cli_files_of_a_nomad_tls_layout_and_can_remove_the_key_file() {
    let world = World::new();
    let dir = layout(
        &world,
        "nomad-tls",
        &[
            ("nomad-agent-ca.pem", "ca.pem"),
            ("nomad-agent-ca-key.pem", "ca-key.pem"),
            ("global-server-nomad.pem", "server.pem"),
            ("global-server-nomad-key.pem", "server-key.pem"),
            ("global-client-nomad.pem", "ec2.pem"),
            ("global-client-nomad-key.pem", "ec2-key.pem"),
            ("global-cli-nomad.pem", "rsa.pem"),
            ("global-cli-nomad-key.pem", "rsa-key.pem"),
        ],
    );
    let expected = key_der(&dir.join("global-cli-nomad-key.pem"));
    add_from_dir(&world, "https://127.0.0.1:4646", &dir)
        .arg("--remove-key-file")
        .succeeds()
        .stderr_has("removed the key file")
        .stderr_has("global-cli-nomad-key.pem");
    assert_eq!(world.secret("prod/client-key").unwrap(), expected);
    assert!(!dir.join("global-cli-nomad-key.pem").exists());
    assert!(
        dir.join("nomad-agent-ca-key.pem").exists(),
        "nothing else is touched"
    );
}

#[test]
fn from_dir_says_what_it_saw_when_files_are_missing_or_ambiguous() {
    let world = World::new();
    let before = world.snapshot();
    let agent_only = layout(
        &world,
        "agent",
        &[
            ("nomad-ca.pem", "ca.pem"),
            ("server.pem", "server.pem"),
            ("server-key.pem", "server-key.pem"),
        ],
    );
    add_from_dir(&world, "https://a:4646", &agent_only)
        .fails()
        .stderr_has("found no CLI certificate")
        .stderr_has("server-key.pem, server.pem");
    let both = layout(
        &world,
        "both",
        &[
            ("nomad-ca.pem", "ca.pem"),
            ("cli.pem", "ec.pem"),
            ("cli-key.pem", "ec-key.pem"),
            ("global-cli-nomad.pem", "rsa.pem"),
            ("global-cli-nomad-key.pem", "rsa-key.pem"),
        ],
    );
    add_from_dir(&world, "https://a:4646", &both)
        .fails()
        .stderr_has("more than one CLI certificate")
        .stderr_has("cli.pem, global-cli-nomad.pem");
    let no_key = layout(
        &world,
        "nokey",
        &[("nomad-ca.pem", "ca.pem"), ("cli.pem", "ec.pem")],
    );
    add_from_dir(&world, "https://a:4646", &no_key)
        .fails()
        .stderr_has("not its key cli-key.pem");
    assert_eq!(world.snapshot(), before);
}

#[test]
fn from_env_migrates_the_guides_bash_profile() {
    let world = World::new();
    let id = pki().identity("ec");
    world
        .cmd()
        .args(["add", "prod", "--from-env"])
        .env("NOMAD_ADDR", "https://127.0.0.1:4646")
        .env("NOMAD_CACERT", &id.ca)
        .env("NOMAD_CLIENT_CERT", &id.cert)
        .env("NOMAD_CLIENT_KEY", &id.key)
        .env("NOMAD_REGION", "eu")
        .env("NOMAD_TOKEN", "env-token-1")
        .succeeds();
    let json = show_json(&world, "prod");
    assert_eq!(json["address"], "https://127.0.0.1:4646");
    assert_eq!(json["region"], "eu");
    assert_eq!(json["token_stored"], true);
    assert_eq!(world.secret("prod/token").unwrap(), b"env-token-1");
    assert_eq!(world.secret("prod/client-key").unwrap(), key_der(&id.key));
    world
        .cmd()
        .args(["add", "x", "--from-env"])
        .fails()
        .stderr_has("NOMAD_ADDR");
}

#[test]
fn ca_directories_and_bundles_with_several_cas() {
    let world = World::new();
    let capath = layout(
        &world,
        "capath",
        &[
            ("a.pem", "ca.pem"),
            ("b.crt", "other-ca.pem"),
            ("notes.txt", "ec.csr"),
        ],
    );
    add_cmd(
        &world,
        "dir",
        &Identity {
            ca: capath,
            ..pki().identity("foreign")
        },
    )
    .succeeds();
    let stored = std::fs::read_to_string(world.cert_file("dir", "ca")).unwrap();
    assert_eq!(stored.matches("BEGIN CERTIFICATE").count(), 2);

    let bundle = world.tmp.path().join("bundle.pem");
    let both = [
        std::fs::read(pki().path("other-ca.pem")).unwrap(),
        std::fs::read(pki().path("ca.pem")).unwrap(),
    ]
    .concat();
    std::fs::write(&bundle, both).unwrap();
    add_cmd(
        &world,
        "bundle",
        &Identity {
            ca: bundle,
            ..pki().identity("ec")
        },
    )
    .succeeds();
}

/// The Nomad mTLS guide's cfssl commands, run verbatim, then `add --from-dir` and `check`
/// against a server using the guide's own server certificate.
#[test]
fn the_guides_cfssl_commands_verbatim() {
    crate::harness::require_tool("cfssl");
    let world = World::new();
    let dir = world.tmp.path().join("nomad_certs");
    std::fs::create_dir_all(&dir).unwrap();
    let guide = r#"set -e
cat > cfssl.json <<'JSON'
{
  "signing": {
    "default": {
      "expiry": "87600h",
      "usages": ["signing", "key encipherment", "server auth", "client auth"]
    }
  }
}
JSON
cfssl print-defaults csr | cfssl gencert -initca - | cfssljson -bare nomad-ca
echo '{}' | cfssl gencert -ca=nomad-ca.pem -ca-key=nomad-ca-key.pem -config=cfssl.json \
    -hostname="server.global.nomad,localhost,127.0.0.1" - | cfssljson -bare server
echo '{}' | cfssl gencert -ca=nomad-ca.pem -ca-key=nomad-ca-key.pem -config=cfssl.json \
    -hostname="client.global.nomad,localhost,127.0.0.1" - | cfssljson -bare client
echo '{}' | cfssl gencert -ca=nomad-ca.pem -ca-key=nomad-ca-key.pem -profile=client \
    - | cfssljson -bare cli
"#;
    let made = std::process::Command::new("bash")
        .args(["-c", guide])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );

    let server = crate::harness::Server::start_with(
        &dir.join("nomad-ca.pem"),
        &dir.join("server.pem"),
        &dir.join("server-key.pem"),
        false,
    );
    add_from_dir(&world, &server.url("127.0.0.1"), &dir).succeeds();
    assert_eq!(
        world.secret("prod/client-key").unwrap(),
        key_der(&dir.join("cli-key.pem"))
    );
    world
        .cmd()
        .args(["check", "prod"])
        .succeeds()
        .stdout_has("OK");
    // Without -config the CLI certificate lasts one year, not ten: `show` says so.
    let json = show_json(&world, "prod");
    let until = json["client_certificate"]["not_after"]
        .as_str()
        .unwrap()
        .to_owned();
    let from = json["client_certificate"]["not_before"]
        .as_str()
        .unwrap()
        .to_owned();
    let year = |t: &str| t[..4].parse::<i32>().unwrap();
    assert_eq!(
        year(&until) - year(&from),
        1,
        "cfssl -profile=client without -config: {from} .. {until}"
    );
}
