//! Every bad input gets a clear message naming the context and file, a non-zero exit, and
//! no change in the config dir or the keychain.

use std::path::PathBuf;
use std::process::Command;

use crate::harness::{OutputExt, World, add_with, pki};

struct Files {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    other_key: PathBuf,
    encrypted_pkcs8: PathBuf,
    encrypted_legacy: PathBuf,
    empty: PathBuf,
    junk: PathBuf,
    der_cert: PathBuf,
    csr: PathBuf,
    truncated: PathBuf,
    dir: PathBuf,
    p12: PathBuf,
    ca_key: PathBuf,
    huge: PathBuf,
    fifo: PathBuf,
    zero: PathBuf,
}

fn files(world: &World) -> Files {
    let pki = pki();
    let id = pki.identity("ec");
    let dir = world.tmp.path().join("inputs");
    std::fs::create_dir_all(&dir).unwrap();
    let at = |name: &str| dir.join(name);
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let key = id.key.to_str().unwrap();
    openssl(&[
        "pkey",
        "-in",
        key,
        "-aes256",
        "-passout",
        "pass:pw",
        "-out",
        at("enc8.pem").to_str().unwrap(),
    ]);
    openssl(&[
        "pkey",
        "-in",
        key,
        "-traditional",
        "-aes256",
        "-passout",
        "pass:pw",
        "-out",
        at("enc1.pem").to_str().unwrap(),
    ]);
    openssl(&[
        "x509",
        "-in",
        id.cert.to_str().unwrap(),
        "-outform",
        "DER",
        "-out",
        at("cert.der").to_str().unwrap(),
    ]);
    openssl(&[
        "pkcs12",
        "-export",
        "-in",
        id.cert.to_str().unwrap(),
        "-inkey",
        key,
        "-passout",
        "pass:pw",
        "-out",
        at("cli.p12").to_str().unwrap(),
    ]);
    // 10 MB of junk, a FIFO (reading it would block forever) and a symlink to /dev/zero.
    let junk: Vec<u8> = (0..10_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(at("huge.pem"), junk).unwrap();
    let made = Command::new("mkfifo").arg(at("fifo.pem")).status().unwrap();
    assert!(made.success());
    std::os::unix::fs::symlink("/dev/zero", at("zero.pem")).unwrap();
    std::fs::write(at("empty.pem"), "").unwrap();
    std::fs::write(at("junk.pem"), "hello, I am not a certificate\n").unwrap();
    let cert_text = std::fs::read_to_string(&id.cert).unwrap();
    std::fs::write(at("truncated.pem"), &cert_text[..cert_text.len() / 2]).unwrap();
    Files {
        ca: id.ca.clone(),
        cert: id.cert.clone(),
        key: id.key.clone(),
        other_key: pki.identity("ec2").key,
        encrypted_pkcs8: at("enc8.pem"),
        encrypted_legacy: at("enc1.pem"),
        empty: at("empty.pem"),
        junk: at("junk.pem"),
        der_cert: at("cert.der"),
        csr: pki.path("ec.csr"),
        truncated: at("truncated.pem"),
        dir: dir.clone(),
        p12: at("cli.p12"),
        ca_key: pki.path("ca-key.pem"),
        huge: at("huge.pem"),
        fifo: at("fifo.pem"),
        zero: at("zero.pem"),
    }
}

#[test]
fn bad_inputs_are_refused_without_changing_anything() {
    let world = World::new();
    add_with(&world, "existing", &pki().identity("ec"), &[]);
    let f = files(&world);
    let p = |p: &PathBuf| p.to_str().unwrap().to_owned();
    let addr = "https://127.0.0.1:4646";
    let with = |name: &str, ca: &PathBuf, cert: &PathBuf, key: &PathBuf| -> Vec<String> {
        [
            "add",
            name,
            "--address",
            addr,
            "--ca",
            &p(ca),
            "--cert",
            &p(cert),
            "--key",
            &p(key),
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let s = |args: &[&str]| args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (
            s(&["add", "../x", "--address", addr]),
            vec!["\"../x\"", "letters, digits"],
        ),
        (s(&["add", "a/b", "--address", addr]), vec!["\"a/b\""]),
        (s(&["add", "", "--address", addr]), vec!["cannot be empty"]),
        (s(&["add", "--", "-rf", "--address", addr]), vec![]),
        (
            s(&["add", &"x".repeat(65), "--address", addr]),
            vec!["limit is 64"],
        ),
        (s(&["add", "prød", "--address", addr]), vec!["'ø'"]),
        (s(&["add", "a\nb", "--address", addr]), vec!["'\\n'"]),
        (s(&["add", "..", "--address", addr]), vec!["reserved"]),
        (s(&["add", "new"]), vec!["context \"new\" needs an address"]),
        (
            s(&["add", "new", "--address", "nomad.prod:4646"]),
            vec!["context \"new\"", "not a URL"],
        ),
        (
            s(&["add", "new", "--address", "ftp://nomad:4646"]),
            vec!["scheme \"ftp\""],
        ),
        (
            s(&["add", "new", "--address", "https://nomad:99999"]),
            vec!["port"],
        ),
        (
            s(&["add", "new", "--address", "https://no mad"]),
            vec!["' '"],
        ),
        (
            s(&["add", "existing", "--address", addr]),
            vec!["already exists"],
        ),
        (
            with("new", &f.ca, &f.cert, &f.other_key),
            vec![
                "context \"new\"",
                "does not belong to the certificate",
                "ec2-key.pem",
            ],
        ),
        (
            with("new", &f.ca, &f.cert, &f.encrypted_pkcs8),
            vec!["enc8.pem", "encrypted", "openssl pkey -in"],
        ),
        (
            with("new", &f.ca, &f.cert, &f.encrypted_legacy),
            vec!["enc1.pem", "encrypted"],
        ),
        (
            with("new", &f.ca, &f.cert, &f.csr),
            vec!["ec.csr", "no private key", "signing request"],
        ),
        (
            with("new", &f.ca, &f.cert, &f.cert),
            vec!["no private key", "a certificate"],
        ),
        (
            with("new", &f.ca, &f.key, &f.key),
            vec!["certificate file", "holds no certificate", "private key"],
        ),
        (
            with("new", &f.empty, &f.cert, &f.key),
            vec!["CA file", "empty.pem", "is empty"],
        ),
        (
            with("new", &f.junk, &f.cert, &f.key),
            vec!["CA file", "junk.pem", "not PEM"],
        ),
        (
            with("new", &f.der_cert, &f.cert, &f.key),
            vec!["cert.der", "DER"],
        ),
        (
            with("new", &f.truncated, &f.cert, &f.key),
            vec!["truncated.pem"],
        ),
        (
            with("new", &f.ca, &f.cert, &f.dir),
            vec!["not a regular file"],
        ),
        (
            with("new", &f.dir.join("missing.pem"), &f.cert, &f.key),
            vec!["could not read CA file", "missing.pem"],
        ),
        (
            s(&["add", "new", "--address", addr, "--cert", &p(&f.cert)]),
            vec!["--key"],
        ),
        (
            s(&["add", "new", "--address", addr, "--token-stdin"]),
            vec!["read no token"],
        ),
        (
            s(&["set", "nope", "--region", "x"]),
            vec!["no context named \"nope\""],
        ),
        (
            s(&["set", "existing", "--address", "not-a-url"]),
            vec!["context \"existing\"", "not a URL"],
        ),
        (
            s(&[
                "set",
                "existing",
                "--cert",
                &p(&f.cert),
                "--key",
                &p(&f.other_key),
            ]),
            vec!["does not belong"],
        ),
        (s(&["remove", "nope"]), vec!["no context named nope"]),
        (s(&["rename", "existing", "../evil"]), vec!["\"../evil\""]),
        (s(&["default", "nope"]), vec!["no context named \"nope\""]),
        (
            with("new", &f.ca, &f.cert, &f.p12),
            vec!["context \"new\"", "cli.p12"],
        ),
        (
            with("new", &f.ca, &f.cert, &f.ca_key),
            vec![
                "context \"new\"",
                "ca-key.pem",
                "does not belong to the certificate",
            ],
        ),
        (
            with("new", &f.huge, &f.cert, &f.key),
            vec!["huge.pem", "too large"],
        ),
        (
            with("new", &f.ca, &f.fifo, &f.key),
            vec!["fifo.pem", "not a regular file"],
        ),
        (
            with("new", &f.ca, &f.cert, &f.zero),
            vec!["zero.pem", "not a regular file"],
        ),
        (s(&["add", " ", "--address", addr]), vec!["' '"]),
        (s(&["add", "new", "--address", ""]), vec!["context \"new\""]),
        (s(&["add", "new", "--address", "https://"]), vec!["host"]),
        (
            s(&["add", "new", "--address", "https://[::1:4646"]),
            vec!["context \"new\""],
        ),
        (s(&["use", "nope"]), vec!["no context named \"nope\""]),
        (
            s(&["exec", "nope", "--", "true"]),
            vec!["no context named \"nope\""],
        ),
        (s(&["shell", "nope"]), vec!["no context named \"nope\""]),
        (
            s(&["exec", "--match", "[", "--", "true"]),
            vec!["no context matches \"[\""],
        ),
    ];
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let before = world.snapshot();
    for (args, expected) in &cases {
        let out = world.cmd().args(args).fails();
        let err = out.stderr_text();
        assert!(matches!(out.code(), 1 | 2), "{args:?}: exit {}", out.code());
        if out.code() == 1 {
            assert!(err.starts_with("nomadctx: "), "{args:?}: {err}");
        }
        for needle in expected {
            assert!(
                err.contains(needle),
                "{args:?}: stderr lacks {needle:?}:\n{err}"
            );
        }
        assert_eq!(
            world.snapshot(),
            before,
            "{args:?} changed the config dir or the keychain"
        );
    }
}

#[test]
fn a_corrupt_config_is_reported_with_file_and_line_and_left_alone() {
    let world = World::new();
    std::fs::create_dir_all(&world.config_dir).unwrap();
    let config = world.config_dir.join("config.toml");
    let broken = "[contexts.prod]\naddress = \"https://a:4646\"\nregion = [1\n";
    std::fs::write(&config, broken).unwrap();
    for args in [
        &["list"][..],
        &["current"],
        &["add", "x", "--address", "https://b:4646"],
        &["use", "prod"],
    ] {
        world
            .cmd()
            .args(args)
            .fails()
            .stderr_has("config.toml")
            .stderr_has("line 3")
            .stderr_has("has not changed it");
    }
    assert_eq!(std::fs::read_to_string(&config).unwrap(), broken);
    std::fs::write(&config, "[contexts.prod]\naddress = 5\n").unwrap();
    world
        .cmd()
        .arg("list")
        .fails()
        .stderr_has("config.toml")
        .stderr_has("line 2");
}

#[test]
fn no_secret_service_is_a_clear_error_and_leaves_no_context() {
    let world = World::without_keychain();
    let id = pki().identity("ec");
    let out = world
        .cmd()
        .args([
            "add",
            "prod",
            "--address",
            "https://127.0.0.1:4646",
            "--cert",
        ])
        .arg(&id.cert)
        .arg("--key")
        .arg(&id.key)
        .fails();
    out.stderr_has("context \"prod\"")
        .stderr_has("Secret Service")
        .stderr_has("nomadctx keychain use file");
    assert!(!world.config_dir.join("config.toml").exists());
    assert!(!world.config_dir.join("certs").exists());
    // The test bus starts nothing on demand. With the system's session.conf, the request
    // above made D-Bus start a gnome-keyring-daemon without a password; in a World::new()
    // that raced our own daemon and left the login collection locked ("prompt dismissed").
    crate::harness::require_tool("dbus-send");
    world
        .program("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            "string:org.freedesktop.secrets",
        ])
        .succeeds()
        .stdout_has("boolean false");
}

#[test]
fn a_keychain_that_never_answers_is_cut_off() {
    let world = World::new();
    add_with(&world, "prod", &pki().identity("ec"), &[]);
    // A socket that accepts connections and never says a word.
    let socket = world.tmp.path().join("silent-bus");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let _held = std::thread::spawn(move || {
        let conns: Vec<_> = listener.incoming().take(8).collect();
        std::thread::sleep(std::time::Duration::from_secs(30));
        drop(conns);
    });
    let started = std::time::Instant::now();
    world
        .cmd()
        .args(["exec", "prod", "--", "true"])
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", socket.display()),
        )
        .env("NOMADCTX_KEYCHAIN_TIMEOUT", "1")
        .fails()
        .stderr_has("did not answer within 1 second")
        .stderr_has("context \"prod\"");
    assert!(
        started.elapsed().as_secs() < 10,
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn use_refuses_to_print_secrets_to_a_terminal() {
    // Under a pseudo-terminal `use` says how to eval instead of printing the token.
    let world = World::new();
    world
        .cmd()
        .args([
            "add",
            "prod",
            "--address",
            "https://a:4646",
            "--token-stdin",
        ])
        .stdin("tok-secret-42")
        .succeeds();
    let out = world
        .program("script")
        .args(["-qec", "nomadctx use prod", "/dev/null"])
        .output();
    let text = out.stdout_text();
    assert!(text.contains("eval \"$(nomadctx use prod)\""), "{text}");
    // The shell from $SHELL is the one `init` is suggested for.
    assert!(text.contains("`nomadctx init bash`"), "{text}");
    assert!(!text.contains("tok-secret-42"), "{text}");
}

/// Hostile config files and environments: each a clear message, a non-zero exit, and the
/// config dir (hostile file included) and keychain exactly as they were.
#[test]
fn hostile_config_files_and_environments_change_nothing() {
    let world = World::new();
    add_with(&world, "prod", &pki().identity("ec"), &[]);
    let config = world.config_dir.join("config.toml");
    let good = std::fs::read(&config).unwrap();
    let good_text = String::from_utf8(good.clone()).unwrap();
    let mut huge = good_text.clone();
    while huge.len() <= 9 << 20 {
        huge.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    let configs: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        (
            "truncated",
            // Cut inside the address string, as a full disk might leave it.
            good[..good_text.find("address = \"").unwrap() + 15].to_vec(),
            vec!["config.toml", "is not valid"],
        ),
        (
            "wrong type",
            b"[contexts.prod]\naddress = 5\n".to_vec(),
            vec!["config.toml", "line 2"],
        ),
        (
            "wrong bool",
            format!("{good_text}skip_verify = \"yes\"\n").into_bytes(),
            vec!["config.toml", "skip_verify"],
        ),
        (
            "unknown key in a context",
            format!("{good_text}colour = \"red\"\n").into_bytes(),
            vec!["config.toml", "colour"],
        ),
        (
            "unknown top-level key",
            format!("theme = 1\n{good_text}").into_bytes(),
            vec!["config.toml", "theme"],
        ),
        (
            "bad context name",
            b"[contexts.\"../x\"]\naddress = \"https://a:4646\"\n".to_vec(),
            vec!["config.toml", "\"../x\""],
        ),
        (
            "default that does not exist",
            format!("default = \"gone\"\n{good_text}").into_bytes(),
            vec!["config.toml", "\"gone\" does not exist"],
        ),
        (
            "not UTF-8",
            [&good[..], b"\xff\xfe\n"].concat(),
            vec!["config.toml", "not UTF-8"],
        ),
        (
            // Deleted by hand: with it gone, the next add would pick a new store id and
            // strand every key of this configuration.
            "store line missing",
            good_text
                .lines()
                .filter(|l| !l.starts_with("store = "))
                .map(|l| format!("{l}\n"))
                .collect::<String>()
                .into_bytes(),
            vec![
                "config.toml",
                "`store = \"...\"` line at the top is missing",
            ],
        ),
        (
            "huge",
            huge.into_bytes(),
            vec!["config.toml", "larger than 8 MiB"],
        ),
    ];
    for (what, bytes, expected) in configs {
        std::fs::write(&config, &bytes).unwrap();
        let before = world.snapshot();
        for args in [&["list"][..], &["use", "prod"], &["remove", "prod"]] {
            let out = world.cmd().args(args).fails();
            assert_eq!(out.code(), 1, "{what}: {args:?}");
            for needle in &expected {
                out.stderr_has(needle);
            }
            out.stderr_has("has not changed it");
            assert_eq!(
                world.snapshot(),
                before,
                "{what}: {args:?} changed something"
            );
        }
    }
    std::fs::write(&config, &good).unwrap();

    let open_dir = world.tmp.path().join("open-runtime");
    std::fs::create_dir(&open_dir).unwrap();
    std::fs::set_permissions(
        &open_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let open = open_dir.to_str().unwrap();
    // What the case is, the variables it sets (or removes), and what stderr must say.
    type EnvCase<'a> = (&'a str, Vec<(&'a str, Option<&'a str>)>, Vec<&'a str>);
    let envs: Vec<EnvCase> = vec![
        (
            "SHELL unset",
            vec![("SHELL", None)],
            vec!["$SHELL is not set", "--shell"],
        ),
        (
            "SHELL odd",
            vec![("SHELL", Some("/usr/bin/tcsh -x; rm -rf"))],
            vec!["a shell nomadctx does not know", "--shell"],
        ),
        (
            "XDG_RUNTIME_DIR world-writable",
            vec![("XDG_RUNTIME_DIR", Some(open))],
            vec!["XDG_RUNTIME_DIR", "open to other users"],
        ),
        (
            "HOME unset",
            vec![("HOME", None), ("NOMADCTX_CONFIG_DIR", None)],
            vec!["HOME is not set", "NOMADCTX_CONFIG_DIR"],
        ),
    ];
    let before = world.snapshot();
    for (what, changes, expected) in envs {
        let mut run = world.cmd().args(["use", "prod"]);
        for (key, value) in changes {
            run = match value {
                Some(v) => run.env(key, v),
                None => run.env_remove(key),
            };
        }
        let out = run.fails();
        assert_eq!(out.code(), 1, "{what}");
        for needle in &expected {
            out.stderr_has(needle);
        }
        assert!(out.stdout.is_empty(), "{what}: {}", out.stdout_text());
        assert_eq!(world.snapshot(), before, "{what} changed something");
        assert_eq!(std::fs::read_dir(&open_dir).unwrap().count(), 0, "{what}");
    }
}

/// Issue 11, case 9: a hand-edited expiry time that is no date panicked `list` (slicing
/// "-1") and wrapped in the expiry warning (i64::MIN).
#[test]
fn hand_edited_expiry_times_are_shown_not_panicked_on() {
    let world = World::new();
    add_with(&world, "prod", &pki().identity("ec"), &[]);
    let config = world.config_dir.join("config.toml");
    let good = std::fs::read_to_string(&config).unwrap();
    let line = good
        .lines()
        .find(|l| l.starts_with("client_cert_not_after = "))
        .expect("add records the expiry")
        .to_owned();
    for odd in ["-1", "-9223372036854775808"] {
        std::fs::write(
            &config,
            good.replace(&line, &format!("client_cert_not_after = {odd}")),
        )
        .unwrap();
        world.cmd().arg("list").succeeds().stdout_has(odd);
        world
            .cmd()
            .args(["exec", "prod", "--", "true"])
            .succeeds()
            .stderr_has("expired on");
    }
}

/// Issue 11: every value a hand edit can reach, set to something hostile (huge, negative,
/// empty, NUL, terminal controls, bidi, very long), never panics a reading command: each
/// either works or says what is wrong, and `show` prints no raw control character.
#[test]
fn hostile_hand_edited_values_never_panic_a_reader() {
    let world = World::new();
    add_with(
        &world,
        "prod",
        &pki().identity("ec"),
        &["--region", "eu", "--namespace", "web"],
    );
    world
        .cmd()
        .args(["set", "prod", "--token-stdin"])
        .stdin("tok-hand-edit")
        .succeeds();
    let config = world.config_dir.join("config.toml");
    let good = std::fs::read_to_string(&config).unwrap();
    let table: toml::Table = toml::from_str(&good).unwrap();

    let long = "x".repeat(100_000);
    let strings = [
        "",
        "\0",
        "\u{1b}]52;c;aGk=\u{7}\u{1b}[2J\u{1b}[1A",
        "\u{9b}2J\u{85}\u{7f}",
        "abc\u{202e}fed\u{2066}",
        "-1",
        "../../../etc/passwd",
        "https://[::1",
        "http://127.0.0.1:1/\u{1b}[2J",
        &long,
    ];
    let strings = strings.map(|s| toml::Value::String(s.to_owned()));
    let integers = [-1, 0, i64::MIN, i64::MAX, 253_402_300_800].map(toml::Value::Integer);
    let others = [
        toml::Value::Float(1e300),
        toml::Value::Float(f64::NAN),
        toml::Value::Boolean(true),
        toml::Value::Integer(-1),
        toml::Value::Array(Vec::new()),
    ];
    let context_fields = [
        "id",
        "address",
        "region",
        "namespace",
        "tls_server_name",
        "skip_verify",
        "ca_version",
        "client_version",
        "client_cert_not_after",
        "token_version",
        "ca_cert",
        "client_cert",
        "token",
    ];
    let top_fields = ["store", "store_dir", "keychain", "default"];
    let mut edits: Vec<(String, toml::Table)> = Vec::new();
    for value in strings.iter().chain(&integers).chain(&others) {
        for field in context_fields {
            let mut edited = table.clone();
            edited["contexts"]["prod"]
                .as_table_mut()
                .unwrap()
                .insert(field.to_owned(), value.clone());
            edits.push((format!("{field} = {value}"), edited));
        }
        for field in top_fields {
            let mut edited = table.clone();
            edited.insert(field.to_owned(), value.clone());
            edits.push((format!("{field} = {value}"), edited));
        }
    }
    // Hostile context names, the table's keys.
    for name in ["", "\u{1b}[2J", "a\u{202e}b", &long] {
        let mut edited = table.clone();
        let prod = edited["contexts"]["prod"].clone();
        edited["contexts"]
            .as_table_mut()
            .unwrap()
            .insert(name.to_owned(), prod);
        edits.push((format!("[contexts.{name:?}]"), edited));
    }

    for (what, edited) in edits {
        let text = toml::to_string(&edited).unwrap();
        for args in [
            &["list"][..],
            &["list", "--json"],
            &["show", "prod"],
            &["show", "prod", "--json"],
            &["current"],
        ] {
            std::fs::write(&config, &text).unwrap();
            let out = world
                .cmd()
                .args(args)
                .env("NOMADCTX_CONTEXT", "prod")
                .output();
            let stderr = out.stderr_text();
            let shown: String = what.chars().take(80).collect();
            assert!(
                out.code() != 101 && !stderr.contains("panicked"),
                "{shown}: {args:?} panicked: {stderr}"
            );
            assert!(
                out.status.success() || stderr.starts_with("nomadctx: "),
                "{shown}: {args:?} failed without a message: {stderr}"
            );
            if args[0] == "show" {
                let stdout = out.stdout_text();
                assert!(
                    !stdout.contains(['\u{0}', '\u{1b}', '\u{9b}', '\u{202e}', '\u{2066}']),
                    "{shown}: {args:?} printed a raw control character: {stdout:?}"
                );
            }
        }
    }
    std::fs::write(&config, &good).unwrap();
    world.cmd().args(["show", "prod"]).succeeds();
}

#[test]
fn exec_without_the_double_dash_says_where_it_goes() {
    let world = World::headless();
    let out = world
        .cmd()
        .args(["exec", "prod", "nomad", "node", "status"])
        .fails();
    assert_eq!(out.code(), 2);
    out.stderr_has("put `--` before the command: nomadctx exec prod -- nomad node status");
    world
        .cmd()
        .args(["exec", "--all", "nomad", "node", "status"])
        .fails()
        .stderr_has("nomadctx exec --all -- nomad node status");
}
