//! `nomadctx check` against real TLS peers on 127.0.0.1: success, and each failure mapped
//! to its cause and remedy.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::harness::{OutputExt, Rng, Run, Server, World, add_with, new_ec_key, openssl_in, pki};
use nomadctx::testing::Failure;
use nomadctx::testing::{MAX_RESPONSE, parse_response};

fn context_for(world: &World, name: &str, address: &str, extra: &[&str]) {
    add_with(world, name, &pki().identity("ec"), extra);
    world
        .cmd()
        .args(["set", name, "--address", address])
        .succeeds();
}

/// `check NAME`, not yet run, for a new context `name` at `address`.
fn check_at(world: &World, name: &str, address: &str) -> Run {
    context_for(world, name, address, &[]);
    world.cmd().args(["check", name])
}

/// A port on 127.0.0.1 that nothing listens on (until something takes it).
fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_correct_context_passes_against_a_real_mtls_server() {
    let server = Server::start("ca.pem", "server", false);
    let world = World::new();
    let out = check_at(&world, "prod", &server.url("127.0.0.1")).succeeds();
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

    let cases: Vec<(&str, String, Vec<&str>, Vec<&str>)> = vec![
        (
            "refused",
            format!("https://127.0.0.1:{}", unused_port()),
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
        Self::serving(client_ca, "-WWW")
    }

    /// With `-www`, every request gets openssl's HTML status page: a TLS server that is
    /// not Nomad.
    fn serving(client_ca: &str, mode: &str) -> Self {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("v1/agent")).unwrap();
        std::fs::create_dir_all(root.path().join("v1/status")).unwrap();
        std::fs::write(
            root.path().join("v1/agent/self"),
            r#"{"config":{"Version":{"Version":"1.8.4"},"Region":"eu"},"member":{}}"#,
        )
        .unwrap();
        std::fs::write(root.path().join("v1/status/leader"), "\"10.0.0.1:4647\"").unwrap();
        let port = unused_port();
        let pki = pki();
        let child = std::process::Command::new("openssl")
            .args([
                "s_server",
                "-quiet",
                mode,
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
    check_at(
        &world,
        "prod",
        &format!("https://127.0.0.1:{}", accepting.port),
    )
    .succeeds()
    .stdout_has("1.8.4")
    .stdout_has("eu")
    .stdout_has("10.0.0.1:4647");

    let rejecting = OpensslServer::start("other-ca.pem");
    check_at(
        &world,
        "other",
        &format!("https://127.0.0.1:{}", rejecting.port),
    )
    .fails()
    .stderr_has("rejected our client certificate");
}

#[test]
fn a_tls_server_that_is_not_nomad_is_not_ok() {
    let world = World::new();
    let web = OpensslServer::serving("ca.pem", "-www");
    let out = check_at(&world, "web", &format!("https://127.0.0.1:{}", web.port)).fails();
    assert_eq!(out.code(), 1);
    out.stderr_has("is a TLS server that is not a Nomad agent: it answered `text/html`");
    assert!(!out.stdout_text().contains("OK"), "{}", out.stdout_text());
    // Nor does a server whose /v1/agent/self is JSON but not an agent's, or whose leader is
    // not IP:PORT.
    let json = hostile_server(2, |_, tcp| {
        let _ = tcp.write_all(json_answer(r#"{"status":"ok"}"#).as_bytes());
    });
    plain_context(&world, "json", json);
    world
        .cmd()
        .args(["check", "json"])
        .fails()
        .stderr_has("an HTTP server that is not a Nomad agent: it answered `application/json`");
    let leader = hostile_server(4, agent("1.9.3", "global", "<html>"));
    plain_context(&world, "leader", leader);
    world
        .cmd()
        .args(["check", "leader"])
        .fails()
        .stderr_has("not a Nomad agent");
}

#[test]
fn an_http_address_for_a_tls_agent_says_to_use_https() {
    let world = World::new();
    let server = Server::start("ca.pem", "server", false);
    let out = check_at(&world, "prod", &format!("http://127.0.0.1:{}", server.port)).fails();
    out.stderr_has("the context's address is http://")
        .stderr_has(&format!(
            "nomadctx set prod --address https://127.0.0.1:{}",
            server.port
        ));
}

#[test]
fn an_address_without_a_port_names_nomad_s_port() {
    let world = World::new();
    // Nothing listens on 127.0.0.1:443 in the tests' world (the same as a refused 4646).
    if std::net::TcpStream::connect(("127.0.0.1", 443)).is_ok() {
        panic!("something listens on 127.0.0.1:443; this test needs it closed");
    }
    check_at(&world, "prod", "https://127.0.0.1")
        .fails()
        .stderr_has("was refused")
        .stderr_has("Nomad's HTTP API listens on 4646 by default")
        .stderr_has("nomadctx set prod --address https://127.0.0.1:4646");
}

/// A client certificate file that carries its intermediate after the leaf, as Go's
/// LoadX509KeyPair accepts: validated at `add`, stored whole, and presented whole.
#[test]
fn client_certificates_with_intermediates_after_the_leaf() {
    let world = World::new();
    let server = Server::start("ca.pem", "server", false);
    let leaf_only = crate::harness::Identity {
        ca: pki().path("ca.pem"),
        cert: pki().path("chained.pem"),
        key: pki().path("chained-key.pem"),
    };
    crate::harness::add_cmd(&world, "leafonly", &leaf_only)
        .fails()
        .stderr_has("was not issued by the CA");

    let with_chain = crate::harness::Identity {
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
    let accepting = crate::harness::rustls_server(
        &pki.path("ca.pem"),
        &pki.path("server.pem"),
        &pki.path("server-key.pem"),
    );
    check_at(&world, "prod", &format!("https://127.0.0.1:{accepting}"))
        .succeeds()
        .stdout_has("1.10.0")
        .stdout_has("rustls")
        .stdout_has("10.1.1.1:4647");

    let rejecting = crate::harness::rustls_server(
        &pki.path("other-ca.pem"),
        &pki.path("server.pem"),
        &pki.path("server-key.pem"),
    );
    check_at(&world, "other", &format!("https://127.0.0.1:{rejecting}"))
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

/// A plain-HTTP server in a thread of the test that reads each request's head and lets
/// `answer` reply to its path however it likes. It serves at most `connections`
/// connections, so a failed test cannot leave it behind for long.
fn hostile_server(
    connections: usize,
    answer: impl Fn(&str, &mut TcpStream) + Send + 'static,
) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut tcp in listener.incoming().take(connections).flatten() {
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match tcp.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&request);
            let path = text.split(' ').nth(1).unwrap_or_default().to_owned();
            answer(&path, &mut tcp);
        }
    });
    port
}

/// A whole HTTP/1.1 answer with a JSON body.
fn json_answer(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Nomad-shaped answers to both requests of `check`, with `version`, `region` and `leader`
/// as JSON string contents (escapes allowed).
fn agent(version: &str, region: &str, leader: &str) -> impl Fn(&str, &mut TcpStream) + use<> {
    let self_body = format!(
        r#"{{"config":{{"Version":{{"Version":"{version}"}},"Region":"{region}"}},"member":{{}}}}"#
    );
    let leader_body = format!("\"{leader}\"");
    move |path, tcp| {
        let body = if path == "/v1/status/leader" {
            &leader_body
        } else {
            &self_body
        };
        let _ = tcp.write_all(json_answer(body).as_bytes());
    }
}

fn plain_context(world: &World, name: &str, port: u16) {
    world
        .cmd()
        .args([
            "add",
            name,
            "--address",
            &format!("http://127.0.0.1:{port}"),
        ])
        .succeeds();
}

/// Issue 11, case 2: a server that streams without end is cut off at the size cap (it grew
/// nomadctx to 2.1 GB in 6 s before), well inside the deadline.
#[test]
fn a_server_that_streams_without_end_meets_the_size_cap() {
    let world = World::new();
    let port = hostile_server(2, |_, tcp| {
        let _ = tcp.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n");
        let block = vec![b'x'; 64 * 1024];
        // 256 MiB at most; nomadctx hangs up after 1 MiB and the next write fails.
        for _ in 0..4096 {
            if tcp.write_all(&block).is_err() {
                break;
            }
        }
    });
    plain_context(&world, "stream", port);
    let start = Instant::now();
    let out = world.cmd().args(["check", "stream"]).fails();
    assert_eq!(out.code(), 1);
    out.stderr_has("context \"stream\"")
        .stderr_has("sent more than 1 MiB")
        .stderr_has("probably not a Nomad agent");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

/// Issue 11, case 2: a server that sends one byte every 2 s no longer keeps `check` alive
/// (each byte used to restart a 5 s read timeout); the whole check ends at its 10 s deadline.
#[test]
fn a_server_that_drips_meets_the_deadline() {
    let world = World::new();
    let port = hostile_server(2, |_, tcp| {
        // 30 s at most; nomadctx hangs up at its deadline and a write fails soon after.
        for byte in json_answer("{}").bytes().take(15) {
            if tcp.write_all(&[byte]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    });
    plain_context(&world, "drip", port);
    let start = Instant::now();
    let out = world.cmd().args(["check", "drip"]).fails();
    let elapsed = start.elapsed();
    assert_eq!(out.code(), 1);
    out.stderr_has("context \"drip\"")
        .stderr_has("no complete answer")
        .stderr_has("within 10 seconds")
        .stderr_has("too slow");
    // Generous: the deadline is 10 s; the drip would last 30 s.
    assert!(elapsed < Duration::from_secs(22), "{elapsed:?}");
}

/// Issue 11, case 2: a chunk size of 2^64-1 panicked the decoder (exit 101) and with it
/// `check --all`; now it is a malformed answer for that context alone.
#[test]
fn a_huge_chunk_size_is_an_error_not_a_panic() {
    let world = World::new();
    let overflow = hostile_server(4, |_, tcp| {
        let _ = tcp.write_all(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nffffffffffffffff\r\nab\r\n0\r\n\r\n",
        );
    });
    let good = hostile_server(4, agent("1.9.3", "global", "127.0.0.1:4647"));
    plain_context(&world, "a-overflow", overflow);
    plain_context(&world, "b-good", good);
    let out = world.cmd().args(["check", "a-overflow"]).fails();
    assert_eq!(out.code(), 1, "{}", out.stderr_text());
    out.stderr_has("did not answer as a Nomad agent")
        .stderr_has("malformed");

    let all = world.cmd().args(["check", "--all"]).fails();
    assert_eq!(all.code(), 1, "{}", all.stderr_text());
    all.stdout_has("a-overflow\tFAILED")
        .stdout_has("b-good\tOK (Nomad 1.9.3, region global)")
        .stderr_has("1 of 2 contexts failed");
}

/// Issue 11, case 2: what the server says is printed escaped: an OSC 52 clipboard write, a
/// screen clear, a cursor-up that would overwrite lines with a forged "OK", C1 CSI and a
/// right-to-left override reach the terminal as visible `\u{..}` escapes.
#[test]
fn what_the_server_says_cannot_drive_the_terminal() {
    let world = World::new();
    let facts = hostile_server(
        8,
        agent(
            r"1.9\u001b]52;c;aGk=\u0007",
            r"eu\u001b[2J\u009b2J\u202elabolg",
            "10.0.0.1:4647",
        ),
    );
    plain_context(&world, "hostile", facts);
    let forbidden = ['\u{1b}', '\u{7}', '\r', '\u{9b}', '\u{202e}', '\u{2066}'];
    let clean = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains(forbidden),
            "raw control characters in {text:?}"
        );
    };
    let out = world.cmd().args(["check", "hostile"]).succeeds();
    clean(&out.stdout);
    clean(&out.stderr);
    out.stdout_has(r"1.9\u{1b}]52;c;aGk=\u{7}")
        .stdout_has(r"eu\u{1b}[2J\u{9b}2J\u{202e}labolg")
        .stdout_has("leader         10.0.0.1:4647");
    let all = world.cmd().args(["check", "--all"]).succeeds();
    clean(&all.stdout);
    all.stdout_has(&format!(
        "hostile\tOK (Nomad {}",
        r"1.9\u{1b}]52;c;aGk=\u{7}, region eu\u{1b}[2J"
    ));

    // What a failure quotes of the answer is escaped too.
    let garbage = hostile_server(2, |_, tcp| {
        let _ = tcp.write_all(b"\x1b]52;c;aGk=\x07\x1b[2J\r\n\r\n");
    });
    plain_context(&world, "garbage", garbage);
    let out = world.cmd().args(["check", "garbage"]).fails();
    clean(&out.stderr);
    out.stderr_has(r"not HTTP (it begins")
        .stderr_has(r"\u{1b}]52;c;aGk=\u{7}\u{1b}[2J");
}

/// Issue 11, case 2: every address a name resolves to is tried in turn, as Nomad's Go
/// client does, so `localhost` works with an agent on 127.0.0.1 wherever ::1 comes first
/// (the order itself is proven by a unit test in src/probe/mod.rs, since this machine's
/// resolver may not list ::1 at all).
#[test]
fn localhost_reaches_an_agent_on_127_0_0_1() {
    let world = World::new();
    let port = hostile_server(4, agent("1.9.3", "global", "127.0.0.1:4647"));
    world
        .cmd()
        .args([
            "add",
            "local",
            "--address",
            &format!("http://localhost:{port}"),
        ])
        .succeeds();
    world
        .cmd()
        .args(["check", "local"])
        .succeeds()
        .stdout_has("OK, http://localhost:")
        .stdout_has("1.9.3");
}

/// Issue 11, case 10: the expiry warning was printed twice (by the secret fetch and again
/// by `check`); once is enough when the certificate and the config agree on the date.
#[test]
fn check_warns_once_about_an_expiring_certificate() {
    let server = Server::start("ca.pem", "server", false);
    let world = World::new();
    add_with(&world, "soon", &pki().identity("soon"), &[]);
    world
        .cmd()
        .args(["set", "soon", "--address", &server.url("127.0.0.1")])
        .succeeds();
    let out = world.cmd().args(["check", "soon"]).succeeds();
    out.stdout_has("OK");
    assert_eq!(
        out.stderr_text().matches("expires on").count(),
        1,
        "{}",
        out.stderr_text()
    );
}

/// Issue 11, case 2: `show` prints a certificate's names, subject and issuer escaped; its
/// JSON keeps the exact values with nothing a terminal acts on.
#[test]
fn show_escapes_what_a_certificate_says() {
    let world = World::new();
    let pki = pki();
    let dir = world.home.join("hostile-cert");
    std::fs::create_dir_all(&dir).unwrap();
    let sans = "DNS:evil\x1b]52;c;aGk=\x07.example,DNS:up\x1b[1Ahere";
    std::fs::write(
        dir.join("cli.ext"),
        format!(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName={sans}\n"
        ),
    )
    .unwrap();
    let openssl = |args: &[&str]| openssl_in(&dir, args);
    let (ca, ca_key) = (pki.path("ca.pem"), pki.path("ca-key.pem"));
    new_ec_key(&dir, "cli-key.pem");
    openssl(&[
        "req",
        "-new",
        "-utf8",
        "-key",
        "cli-key.pem",
        "-out",
        "cli.csr",
        "-subj",
        "/CN=cli.\u{202e}lived\x1b[2J",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "cli.csr",
        "-CA",
        ca.to_str().unwrap(),
        "-CAkey",
        ca_key.to_str().unwrap(),
        "-out",
        "cli.pem",
        "-days",
        "200",
        "-extfile",
        "cli.ext",
    ]);
    let id = crate::harness::Identity {
        ca,
        cert: dir.join("cli.pem"),
        key: dir.join("cli-key.pem"),
    };
    add_with(&world, "evil", &id, &[]);
    let out = world.cmd().args(["show", "evil"]).succeeds();
    let text = out.stdout_text();
    assert!(
        !text.contains(['\u{1b}', '\u{7}', '\u{202e}']),
        "raw control characters in {text:?}"
    );
    out.stdout_has(r"DNS:evil\u{1b}]52;c;aGk=\u{7}.example, DNS:up\u{1b}[1Ahere")
        .stdout_has(r"CN=cli.\u{202e}lived");

    let json = world.cmd().args(["show", "evil", "--json"]).succeeds();
    let text = json.stdout_text();
    assert!(
        !text.contains(['\u{1b}', '\u{7}', '\u{202e}']),
        "raw control characters in {text:?}"
    );
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        value["client_certificate"]["sans"][0],
        "DNS:evil\x1b]52;c;aGk=\x07.example"
    );
    assert!(
        value["client_certificate"]["subject"]
            .as_str()
            .unwrap()
            .starts_with("CN=cli.\u{202e}lived")
    );
}

/// Property: any bytes give a response or an error, never a panic; a body is never
/// longer than the answer; more than the cap is always refused.
#[test]
fn the_parser_never_panics_on_mutated_answers() {
    let seeds: [&[u8]; 4] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;e=1\r\nde\r\n0\r\n\r\n",
        b"HTTP/1.0 403 Forbidden\r\nX: y\r\n\r\nno",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n1\r\na\r\n0\r\n\r\n",
    ];
    let pieces: [&[u8]; 11] = [
        b"\r\n",
        b"fffffffffffffff",
        b"\r\n\r\n",
        b"ffffffffffffffff",
        b"10000000000000000",
        b"Transfer-Encoding: chunked\r\n",
        b"Content-Length: 18446744073709551615\r\n",
        b";",
        b"0\r\n",
        b"\xff\xfe\x00",
        b"\x1b]52;c;",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..100_000 {
        let mut raw = seeds[rng.below(seeds.len())].to_vec();
        for _ in 0..=rng.below(6) {
            let at = rng.below(raw.len() + 1);
            match rng.below(5) {
                0 => raw.insert(at, rng.next() as u8),
                1 if at < raw.len() => {
                    raw.remove(at);
                }
                2 if at < raw.len() => raw[at] ^= 1 << rng.below(8),
                3 => raw.truncate(at),
                _ => {
                    let piece = pieces[rng.below(pieces.len())];
                    raw.splice(at..at, piece.iter().copied());
                }
            }
        }
        if let Ok(response) = parse_response(&raw) {
            assert!(response.body.len() <= raw.len(), "{raw:?}");
        }
    }
    let mut huge = seeds[1].to_vec();
    huge.resize(MAX_RESPONSE + 1 + rng.below(1000), b'0');
    assert!(matches!(parse_response(&huge), Err(Failure::TooLarge)));
}
