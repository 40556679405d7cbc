//! End to end: a Go client that reads NOMAD_* exactly as Nomad's api package does talks to a
//! server that requires client certificates, through `exec` and through `use` in bash.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::harness::{OutputExt, Server, World, add_with, pki, require_tool};

/// The Go stand-in for the Nomad CLI, built once per test run.
fn nomadapi() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        require_tool("go");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let out = dir.join("nomadapi");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/nomadapi.go");
        let built = Command::new("go")
            .args(["build", "-o"])
            .arg(&out)
            .arg(&src)
            .env("GOCACHE", dir.join("gocache"))
            .env("GOPATH", dir.join("gopath"))
            .env("GO111MODULE", "off")
            .output()
            .unwrap();
        assert!(
            built.status.success(),
            "go build: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        out
    })
}

fn assert_answer(stdout: &str, how: &str) {
    let (status, body) = stdout
        .trim()
        .split_once(' ')
        .unwrap_or_else(|| panic!("{how}: {stdout}"));
    assert_eq!(status, "200", "{how}: {stdout}");
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(
        json["client_cn"], "cli.rsa",
        "{how}: the server saw our client certificate"
    );
    assert_eq!(json["token"], "acl-token-7f3e", "{how}");
    assert_eq!(
        json["path"], "/v1/agent/self?namespace=web&region=eu",
        "{how}"
    );
}

#[test]
fn nomad_client_authenticates_through_exec_and_use() {
    let server = Server::start("ca.pem", "server", false);
    let world = World::new();
    let tool = nomadapi();
    add_with(
        &world,
        "prod",
        &pki().identity("rsa"),
        &["--region", "eu", "--namespace", "web"],
    );
    world
        .cmd()
        .args([
            "set",
            "prod",
            "--address",
            &format!("https://127.0.0.1:{}", server.port),
            "--token-stdin",
        ])
        .stdin("acl-token-7f3e\n")
        .succeeds();

    let exec_tool = || {
        world
            .cmd()
            .args(["exec", "prod", "--"])
            .arg(tool)
            .succeeds()
            .stdout_text()
    };
    assert_answer(&exec_tool(), "exec");

    // Through a shell that starts the client as its own child, as `nomad` is started.
    let via_shell = world
        .cmd()
        .args(["exec", "prod", "--", "sh", "-c", "\"$0\""])
        .arg(tool)
        .succeeds();
    assert_answer(&via_shell.stdout_text(), "exec via sh");

    let used = world
        .program("bash")
        .args(["-c", "eval \"$(nomadctx use prod)\" && \"$0\""])
        .arg(tool)
        .succeeds();
    assert_answer(&used.stdout_text(), "use");

    // The server name in the certificate, checked the way Nomad checks it.
    world
        .cmd()
        .args([
            "set",
            "prod",
            "--address",
            &format!("https://localhost:{}", server.port),
            "--tls-server-name",
            "server.global.nomad",
        ])
        .succeeds();
    assert_answer(&exec_tool(), "tls server name");
}

#[test]
fn a_context_without_the_client_key_is_refused_by_the_server() {
    let server = Server::start("ca.pem", "server", false);
    let world = World::new();
    let ca = pki().path("ca.pem");
    world
        .cmd()
        .args([
            "add",
            "nokey",
            "--address",
            &format!("https://127.0.0.1:{}", server.port),
            "--ca",
        ])
        .arg(&ca)
        .succeeds();
    let out = world
        .cmd()
        .args(["exec", "nokey", "--"])
        .arg(nomadapi())
        .output();
    assert_eq!(out.code(), 1, "{}", out.stdout_text());
}
