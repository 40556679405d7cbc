//! Certificate problems the Nomad mTLS guide's users meet, caught at `add` with one clear
//! sentence and a remedy, and expiry warnings on every `use` and `exec`.

use crate::harness::{Identity, OutputExt, World, add_cmd, add_with, pki, show_json};

fn add(world: &World, name: &str, id: &Identity) -> std::process::Output {
    add_cmd(world, name, id).output()
}

#[test]
fn certificate_problems_are_refused_with_a_remedy() {
    let world = World::new();
    let pki = pki();
    let before = world.snapshot();
    let cases = [
        (
            "expired",
            vec![
                "context \"expired\"",
                "expired.pem",
                "expired on",
                "issue a new CLI certificate",
            ],
        ),
        (
            "foreign",
            vec!["foreign.pem", "was not issued by the CA", "ca.pem"],
        ),
        (
            "server-only",
            vec![
                "server-only.pem",
                "not allowed for client authentication",
                "-profile=client",
            ],
        ),
    ];
    for (name, needles) in cases {
        let out = add(&world, name, &pki.identity(name));
        assert_eq!(out.code(), 1, "{name}: {}", out.stderr_text());
        for needle in needles {
            out.stderr_has(needle);
        }
        assert_eq!(world.snapshot(), before, "{name} changed something");
    }
    // The server certificate given as the CA: the classic mix-up of file names.
    let mut mixed = pki.identity("ec");
    mixed.ca = pki.path("server.pem");
    let out = add(&world, "mixed", &mixed);
    out.stderr_has("server.pem")
        .stderr_has("not a CA certificate");
    // The CA given as the client certificate.
    let mut swapped = pki.identity("ec");
    swapped.cert = pki.path("ca.pem");
    swapped.key = pki.path("ca-key.pem");
    add(&world, "swapped", &swapped).stderr_has("is a CA certificate");
    assert_eq!(world.snapshot(), before);
}

#[test]
fn a_certificate_close_to_expiry_warns_at_add_use_and_exec() {
    let world = World::new();
    let soon = pki().identity("soon");
    add_with(&world, "soon", &soon, &[])
        .stderr_has("expires on")
        .stderr_has("days left");
    world
        .cmd()
        .args(["use", "soon"])
        .succeeds()
        .stderr_has("context \"soon\" expires on");
    world
        .cmd()
        .args(["exec", "soon", "--", "true"])
        .succeeds()
        .stderr_has("nomadctx set soon --cert");
    let list = world.cmd().arg("list").succeeds();
    list.stdout_has("CERT EXPIRES");

    add_with(&world, "fine", &pki().identity("ec"), &[]);
    let quiet = world.cmd().args(["exec", "fine", "--", "true"]).succeeds();
    assert!(quiet.stderr_text().is_empty(), "{}", quiet.stderr_text());
}

#[test]
fn a_new_ca_is_checked_against_the_stored_certificate() {
    let world = World::new();
    add_with(&world, "prod", &pki().identity("ec"), &[]);
    let before = world.snapshot();
    world
        .cmd()
        .args(["set", "prod", "--ca"])
        .arg(pki().path("other-ca.pem"))
        .fails()
        .stderr_has("was not issued by the CA")
        .stderr_has("other-ca.pem");
    assert_eq!(world.snapshot(), before);
}

#[test]
fn show_describes_the_client_certificate_as_openssl_does() {
    let world = World::new();
    for (name, key_type) in [("rsa", "RSA 4096 bits"), ("ec", "ECDSA P-256")] {
        let id = pki().identity(name);
        add_with(&world, name, &id, &[]);
        let fingerprint = std::process::Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
            .arg(&id.cert)
            .output()
            .unwrap();
        let fingerprint = String::from_utf8(fingerprint.stdout).unwrap();
        let fingerprint = fingerprint.trim().rsplit('=').next().unwrap().to_owned();
        let out = world.cmd().args(["show", name]).succeeds();
        out.stdout_has(&format!("CN=cli.{name}"))
            .stdout_has("CN=ca")
            .stdout_has(key_type)
            .stdout_has(&fingerprint);
        let json = show_json(&world, name);
        assert_eq!(json["client_certificate"]["sha256"], fingerprint.as_str());
    }
    let server = crate::harness::Identity {
        ca: pki().path("ca.pem"),
        cert: pki().path("server.pem"),
        key: pki().path("server-key.pem"),
    };
    add_with(&world, "srv", &server, &[]);
    world
        .cmd()
        .args(["show", "srv"])
        .succeeds()
        .stdout_has("DNS:server.global.nomad, DNS:localhost, IP:127.0.0.1");
}

#[test]
fn an_agent_s_certificate_as_the_cli_s_is_accepted_with_a_warning() {
    let world = World::new();
    // The guide's server certificate allows client auth too, so it works, but it names
    // server.global.nomad: an agent's identity, not the CLI's.
    let out = add_cmd(&world, "prod", &pki().identity("server")).succeeds();
    out.stderr_has("server.pem names server.global.nomad, a Nomad agent's identity")
        .stderr_has("cli.pem");
    let cli = add_with(&world, "staging", &pki().identity("ec"), &[]);
    assert!(
        !cli.stderr_text().contains("agent's identity"),
        "{}",
        cli.stderr_text()
    );
}
