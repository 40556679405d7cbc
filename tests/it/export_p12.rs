//! `export-p12`: a bundle openssl and NSS (a browser's certificate store) both import.

use std::process::Command;

use crate::harness::{OutputExt, World, add_with, pki, require_tool, squash};

#[test]
fn the_bundle_imports_into_openssl_and_nss() {
    require_tool("pk12util");
    let world = World::new();
    for (name, traditional) in [("ec", false), ("rsa", false), ("ec", true), ("rsa", true)] {
        let mut id = pki().identity(name);
        if traditional {
            // SEC1 and PKCS#1 keys, as `openssl ec`/`openssl rsa` and older tools write them.
            let converted = world.tmp.path().join(format!("{name}-traditional-key.pem"));
            let out = Command::new("openssl")
                .args(["pkey", "-traditional", "-in"])
                .arg(&id.key)
                .arg("-out")
                .arg(&converted)
                .output()
                .unwrap();
            assert!(out.status.success());
            id.key = converted;
        }
        let label = if traditional {
            format!("{name}-traditional")
        } else {
            name.to_owned()
        };
        add_with(&world, &label, &id, &[]);
        let name = label.as_str();
        let p12 = world.tmp.path().join(format!("{name}.p12"));
        world
            .cmd()
            .args(["export-p12", name, "--password-stdin", "-o"])
            .arg(&p12)
            .stdin("pw 'with' spaces\n")
            .succeeds();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p12).unwrap().permissions().mode() & 0o777,
            0o600
        );

        let info = Command::new("openssl")
            .args([
                "pkcs12",
                "-info",
                "-nodes",
                "-passin",
                "pass:pw 'with' spaces",
                "-in",
            ])
            .arg(&p12)
            .output()
            .unwrap();
        assert!(
            info.status.success(),
            "openssl pkcs12: {}",
            String::from_utf8_lossy(&info.stderr)
        );
        // What OpenSSL 3 and NSS read without their legacy providers.
        let algorithms = info.stderr_text();
        for wanted in [
            "MAC: sha256",
            "Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC",
            "PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC",
        ] {
            assert!(algorithms.contains(wanted), "{wanted:?} in {algorithms}");
        }
        let text = info.stdout_text();
        assert!(text.contains("subject=CN = cli."), "{text}");
        assert!(
            text.contains("subject=CN = ca"),
            "the CA travels along: {text}"
        );
        // The key inside is the stored key: same public half as the certificate.
        let key_pub = Command::new("sh")
            .args([
                "-c",
                "printf '%s' \"$1\" | openssl pkey -pubout",
                "sh",
                &text,
            ])
            .output()
            .unwrap();
        let cert_pub = Command::new("openssl")
            .args(["x509", "-noout", "-pubkey", "-in"])
            .arg(&id.cert)
            .output()
            .unwrap();
        assert_eq!(
            squash(&key_pub.stdout),
            squash(&cert_pub.stdout),
            "{name}: key in the bundle matches the certificate"
        );

        let nss = world.tmp.path().join(format!("nss-{name}"));
        std::fs::create_dir_all(&nss).unwrap();
        let db = format!("sql:{}", nss.display());
        let created = Command::new("certutil")
            .args(["-N", "-d", &db, "--empty-password"])
            .output()
            .unwrap();
        assert!(
            created.status.success(),
            "{}",
            String::from_utf8_lossy(&created.stderr)
        );
        let imported = Command::new("pk12util")
            .args(["-i"])
            .arg(&p12)
            .args(["-d", &db, "-W", "pw 'with' spaces"])
            .output()
            .unwrap();
        assert!(
            imported.status.success(),
            "pk12util: {}{}",
            imported.stdout_text(),
            imported.stderr_text()
        );
        let listed = Command::new("certutil")
            .args(["-L", "-d", &db])
            .output()
            .unwrap();
        let listed = listed.stdout_text();
        // Listed under the context's name (the bundle's friendly name), with its key.
        let user_cert = listed
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_default();
        assert!(
            user_cert.trim_end().ends_with("u,u,u"),
            "{name}: NSS holds the certificate with its key: {listed}"
        );
    }
}

#[test]
fn no_bundle_without_a_password_or_to_a_terminal() {
    let world = World::new();
    add_with(&world, "prod", &pki().identity("ec"), &[]);
    let out = world.tmp.path().join("prod.p12");
    world
        .cmd()
        .args(["export-p12", "prod", "--password-stdin", "-o"])
        .arg(&out)
        .stdin("\n")
        .fails()
        .stderr_has("empty password");
    assert!(!out.exists());
    world
        .cmd()
        .args(["export-p12", "prod", "-o"])
        .arg(&out)
        .fails()
        .stderr_has("--password-stdin");
    let tty = world
        .program("script")
        .args([
            "-qec",
            "nomadctx export-p12 prod --password-stdin < /dev/null",
            "/dev/null",
        ])
        .output();
    assert!(
        tty.stdout_text().contains("-o prod.p12"),
        "{}",
        tty.stdout_text()
    );
    world
        .cmd()
        .args(["add", "plain", "--address", "https://a:4646"])
        .succeeds();
    world
        .cmd()
        .args(["export-p12", "plain", "--password-stdin"])
        .stdin("pw\n")
        .fails()
        .stderr_has("no client certificate");
}
