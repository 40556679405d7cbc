//! `nomadctx check` against real TLS peers on 127.0.0.1: success, and each failure mapped
//! to its cause and remedy.

mod harness;

use harness::{OutputExt, Server, World, add_with, pki};

fn context_for(world: &World, name: &str, address: &str, extra: &[&str]) {
    add_with(world, name, &pki().identity("ec"), extra);
    world
        .cmd()
        .args(["set", name, "--address", address])
        .succeeds();
}

#[test]
fn a_correct_context_passes_against_a_real_mtls_server() {
    let server = Server::start("ca.pem", "server", false);
    let world = World::new();
    context_for(&world, "prod", &server.url("127.0.0.1"), &[]);
    let out = world.cmd().args(["check", "prod"]).succeeds();
    out.stdout_has("OK")
        .stdout_has("mutual TLS")
        .stdout_has("1.9.3")
        .stdout_has("global")
        .stdout_has("127.0.0.1:4647");
}

#[test]
fn each_failure_is_explained() {
    let world = World::new();
    let good = Server::start("ca.pem", "server", false);
    let foreign_server = Server::start("ca.pem", "other-server", false);
    let rejecting = Server::start("other-ca.pem", "server", false);
    let plain = Server::start("ca.pem", "server", true);
    let unused_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    let cases: Vec<(&str, String, Vec<&str>, Vec<&str>)> = vec![
        (
            "refused",
            format!("https://127.0.0.1:{unused_port}"),
            vec![],
            vec!["refused", &"127.0.0.1"],
        ),
        (
            "plain",
            plain.url("127.0.0.1"),
            vec![],
            vec!["does not speak TLS", "http://"],
        ),
        (
            "wrongca",
            foreign_server.url("127.0.0.1"),
            vec![],
            vec!["CA did not sign", "--ca"],
        ),
        (
            "wrongname",
            good.url("127.0.0.1"),
            vec!["--tls-server-name", "server.eu.nomad"],
            vec![
                "server.global.nomad",
                "server.global.nomad, localhost, 127.0.0.1",
                "nomadctx set wrongname --tls-server-name server.",
            ],
        ),
        (
            "rejected",
            rejecting.url("127.0.0.1"),
            vec![],
            vec!["rejected our client certificate"],
        ),
    ];
    for (name, address, extra, needles) in &cases {
        context_for(&world, name, address, extra);
        let out = world.cmd().args(["check", name]).fails();
        assert_eq!(out.code(), 1);
        out.stderr_has(&format!("context \"{name}\""));
        for needle in needles {
            out.stderr_has(needle);
        }
    }

    context_for(&world, "acl", &good.url("127.0.0.1"), &[]);
    world
        .cmd()
        .args(["set", "acl", "--token-stdin"])
        .stdin("bad")
        .succeeds();
    world
        .cmd()
        .args(["check", "acl"])
        .fails()
        .stderr_has("HTTP 403")
        .stderr_has("--token-stdin");

    let all = world.cmd().args(["check", "--all"]).fails();
    all.stdout_has("acl\tFAILED").stdout_has("refused\tFAILED");
    all.stderr_has("6 of 6 contexts failed");
}

#[test]
fn plain_http_contexts_and_skip_verify_are_checked_too() {
    let world = World::new();
    let plain = Server::start("ca.pem", "server", true);
    world
        .cmd()
        .args([
            "add",
            "dev",
            "--address",
            &format!("http://127.0.0.1:{}", plain.port),
        ])
        .succeeds();
    world
        .cmd()
        .args(["check", "dev"])
        .succeeds()
        .stdout_has("plain HTTP")
        .stdout_has("1.9.3");

    let foreign_server = Server::start("ca.pem", "other-server", false);
    context_for(
        &world,
        "skip",
        &foreign_server.url("127.0.0.1"),
        &["--skip-verify"],
    );
    world
        .cmd()
        .args(["check", "skip"])
        .succeeds()
        .stdout_has("OK");
}

/// `openssl s_server -Verify` as a second, independent TLS peer that demands a client
/// certificate; `-WWW` serves Nomad-shaped answers from files.
struct OpensslServer {
    child: std::process::Child,
    port: u16,
    _root: tempfile::TempDir,
}

impl OpensslServer {
    fn start(client_ca: &str) -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("v1/agent")).unwrap();
        std::fs::create_dir_all(root.path().join("v1/status")).unwrap();
        std::fs::write(
            root.path().join("v1/agent/self"),
            r#"{"config":{"Version":{"Version":"1.8.4"},"Region":"eu"}}"#,
        )
        .unwrap();
        std::fs::write(root.path().join("v1/status/leader"), "\"10.0.0.1:4647\"").unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pki = pki();
        let child = std::process::Command::new("openssl")
            .args([
                "s_server",
                "-quiet",
                "-WWW",
                "-Verify",
                "1",
                "-verify_return_error",
                "-accept",
                &format!("127.0.0.1:{port}"),
            ])
            .arg("-CAfile")
            .arg(pki.path(client_ca))
            .arg("-cert")
            .arg(pki.path("server.pem"))
            .arg("-key")
            .arg(pki.path("server-key.pem"))
            .current_dir(root.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "openssl s_server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Self {
            child,
            port,
            _root: root,
        }
    }
}

impl Drop for OpensslServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn openssl_s_server_as_an_independent_peer() {
    let world = World::new();
    let accepting = OpensslServer::start("ca.pem");
    context_for(
        &world,
        "prod",
        &format!("https://127.0.0.1:{}", accepting.port),
        &[],
    );
    world
        .cmd()
        .args(["check", "prod"])
        .succeeds()
        .stdout_has("1.8.4")
        .stdout_has("eu")
        .stdout_has("10.0.0.1:4647");

    let rejecting = OpensslServer::start("other-ca.pem");
    context_for(
        &world,
        "other",
        &format!("https://127.0.0.1:{}", rejecting.port),
        &[],
    );
    world
        .cmd()
        .args(["check", "other"])
        .fails()
        .stderr_has("rejected our client certificate");
}

/// A client certificate file that carries its intermediate after the leaf, as Go's
/// LoadX509KeyPair accepts: validated at `add`, stored whole, and presented whole.
#[test]
fn client_certificates_with_intermediates_after_the_leaf() {
    let world = World::new();
    let server = Server::start("ca.pem", "server", false);
    let leaf_only = harness::Identity {
        ca: pki().path("ca.pem"),
        cert: pki().path("chained.pem"),
        key: pki().path("chained-key.pem"),
    };
    harness::add_cmd(&world, "leafonly", &leaf_only)
        .fails()
        .stderr_has("was not issued by the CA");

    let with_chain = harness::Identity {
        cert: pki().path("chained-bundle.pem"),
        ..leaf_only
    };
    add_with(&world, "chained", &with_chain, &[]);
    let stored = std::fs::read_to_string(world.cert_file("chained", "client")).unwrap();
    assert_eq!(stored.matches("BEGIN CERTIFICATE").count(), 2);
    world
        .cmd()
        .args(["set", "chained", "--address", &server.url("127.0.0.1")])
        .succeeds();
    world
        .cmd()
        .args(["check", "chained"])
        .succeeds()
        .stdout_has("OK");
}

#[test]
fn a_rustls_server_that_demands_client_certificates() {
    let world = World::new();
    let pki = pki();
    let accepting = harness::rustls_server(
        &pki.path("ca.pem"),
        &pki.path("server.pem"),
        &pki.path("server-key.pem"),
    );
    context_for(
        &world,
        "prod",
        &format!("https://127.0.0.1:{accepting}"),
        &[],
    );
    world
        .cmd()
        .args(["check", "prod"])
        .succeeds()
        .stdout_has("1.10.0")
        .stdout_has("rustls")
        .stdout_has("10.1.1.1:4647");

    let rejecting = harness::rustls_server(
        &pki.path("other-ca.pem"),
        &pki.path("server.pem"),
        &pki.path("server-key.pem"),
    );
    context_for(
        &world,
        "other",
        &format!("https://127.0.0.1:{rejecting}"),
        &[],
    );
    world
        .cmd()
        .args(["check", "other"])
        .fails()
        .stderr_has("rejected our client certificate");

    // A context without a client certificate meets `certificate_required`.
    world
        .cmd()
        .args([
            "add",
            "nocert",
            "--address",
            &format!("https://127.0.0.1:{accepting}"),
            "--ca",
        ])
        .arg(pki.path("ca.pem"))
        .succeeds();
    world
        .cmd()
        .args(["check", "nocert"])
        .fails()
        .stderr_has("rejected our client certificate");
}
