//! The outside attack review's findings (issue 11), each as the attack that worked: another
//! local user's way in through the config directory, header injection through a token,
//! `export-p12 -o` paths, the runtime directory, and `--remove-key-file` on a link.

use std::io::Read;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::{
    Identity, KernelSession, OutputExt, World, add_args, add_cmd, add_with, kill_at_step, pki,
    require_tool,
};

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A listener that records whatever any client sent it, as an attacker's would. Nothing
/// accepts while the commands run: what they sent waits in the kernel's queue, and
/// [`Listener::received`] reads it once they have exited, so there is nothing to race.
struct Listener {
    listener: TcpListener,
    port: u16,
}

impl Listener {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        Self { listener, port }
    }

    /// Everything sent by the clients that connected so far (which have exited).
    fn received(&self) -> String {
        let mut received = Vec::new();
        while let Ok((mut stream, _)) = self.listener.accept() {
            stream.set_nonblocking(false).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(1)))
                .unwrap();
            let _ = stream.read_to_end(&mut received);
        }
        String::from_utf8_lossy(&received).into_owned()
    }
}

/// A context whose token and key are stored, pointed at `address`.
fn context_with_token(world: &World, address: &str) {
    let id = pki().identity("ec");
    world
        .cmd()
        .args(["add", "prod", "--address", address, "--token-stdin"])
        .identity(&id)
        .stdin("the-acl-token\n")
        .succeeds();
}

/// What the review did: with the config directory open to others, replace config.toml
/// (write beside it, then rename over it) with one that sends the context elsewhere.
fn point_config_at(world: &World, address: &str) {
    let config = world.config_dir.join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("address = "))
        .unwrap()
        .to_owned();
    let swapped = text.replace(&line, &format!("address = {address:?}"));
    let tmp = world.config_dir.join(".x");
    std::fs::write(&tmp, swapped).unwrap();
    std::fs::rename(&tmp, &config).unwrap();
}

#[test]
fn a_config_directory_others_can_write_is_refused_before_any_secret_is_used() {
    let world = World::new();
    context_with_token(&world, "https://127.0.0.1:4646");
    let attacker = Listener::start();
    chmod(&world.config_dir, 0o770);
    point_config_at(&world, &format!("http://127.0.0.1:{}", attacker.port));
    let commands: [&[&str]; 4] = [
        &["check", "prod"],
        &["use", "prod", "--shell", "bash"],
        &["exec", "prod", "--", "env"],
        &["export-p12", "prod", "--password-stdin"],
    ];
    for args in commands {
        let out = world.cmd().args(args).stdin("pw\n").fails();
        out.stderr_has("config directory")
            .stderr_has("mode 770")
            .stderr_has("chmod 750");
        assert!(
            !out.stdout_text().contains("the-acl-token") && out.stdout.is_empty(),
            "{args:?} printed {}",
            out.stdout_text()
        );
    }
    assert_eq!(attacker.received(), "", "the token's owner connected");
    // The listener does hear a client that connects.
    std::io::Write::write_all(
        &mut std::net::TcpStream::connect(("127.0.0.1", attacker.port)).unwrap(),
        b"GET / HTTP/1.1\r\n",
    )
    .unwrap();
    assert!(attacker.received().starts_with("GET /"));

    // The remedy the message gives is enough.
    chmod(&world.config_dir, 0o750);
    world.cmd().args(["list", "--names"]).succeeds();
}

#[test]
fn a_config_file_others_can_write_is_refused() {
    let world = World::new();
    context_with_token(&world, "https://127.0.0.1:4646");
    let config = world.config_dir.join("config.toml");
    chmod(&config, 0o666);
    world
        .cmd()
        .args(["use", "prod", "--shell", "bash"])
        .fails()
        .stderr_has("config file")
        .stderr_has("chmod 644");
    chmod(&config, 0o600);
    world
        .cmd()
        .args(["use", "prod", "--shell", "bash"])
        .succeeds();
}

#[test]
fn certificate_directories_others_can_write_are_refused() {
    let world = World::new();
    context_with_token(&world, "https://127.0.0.1:4646");
    let certs = world.config_dir.join("certs");
    let context_dir = world
        .cert_file("prod", "ca")
        .parent()
        .unwrap()
        .to_path_buf();
    for dir in [&certs, &context_dir] {
        chmod(dir, 0o777);
        world
            .cmd()
            .args(["exec", "prod", "--", "true"])
            .fails()
            .stderr_has("certificate directory")
            .stderr_has("chmod 755");
        let left = std::fs::read_dir(world.runtime_dir.join("nomadctx")).map_or(0, |d| d.count());
        assert_eq!(left, 0, "a key file was written");
        chmod(dir, 0o700);
    }
    world.cmd().args(["exec", "prod", "--", "true"]).succeeds();
}

#[test]
fn a_directory_above_that_others_can_write_is_refused_unless_sticky() {
    let world = World::new();
    context_with_token(&world, "https://127.0.0.1:4646");
    // HOME holds the config directory in these worlds.
    chmod(&world.home, 0o777);
    world
        .cmd()
        .args(["use", "prod", "--shell", "bash"])
        .fails()
        .stderr_has(&format!("{} has mode 777", world.home.display()))
        .stderr_has("chmod go-w");
    // As /tmp: others may create entries but not rename or remove ours.
    chmod(&world.home, 0o1777);
    world
        .cmd()
        .args(["use", "prod", "--shell", "bash"])
        .succeeds();
    chmod(&world.home, 0o700);

    // A symlinked config directory is judged by where it leads.
    let shared = world.tmp.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    let moved = shared.join("cfg");
    std::fs::rename(&world.config_dir, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &world.config_dir).unwrap();
    world.cmd().args(["list", "--names"]).succeeds();
    chmod(&shared, 0o777);
    world
        .cmd()
        .args(["list", "--names"])
        .fails()
        .stderr_has(&format!("{} has mode 777", shared.display()));
}

#[test]
fn a_token_is_one_line_of_text_whatever_it_came_from() {
    let world = World::new();
    let attacker = Listener::start();
    let address = format!("http://127.0.0.1:{}", attacker.port);
    let before = world.snapshot();
    world
        .cmd()
        .args(["add", "envtok", "--from-env"])
        .env("NOMAD_ADDR", &address)
        .env("NOMAD_TOKEN", "tok\r\nX-Injected: 1")
        .fails()
        .stderr_has("context \"envtok\"")
        .stderr_has("NOMAD_TOKEN")
        .stderr_has("not one line of text");
    assert!(
        world.snapshot() == before,
        "a refused add changed something"
    );

    // A token put into the keychain by hand (or by an older version) is held to the same
    // rule before it goes into a header or a variable.
    world
        .cmd()
        .args(["add", "prod", "--address", &address, "--token-stdin"])
        .stdin("good-token\n")
        .succeeds();
    let account = world.live_account("prod/token").unwrap();
    world
        .program("secret-tool")
        .args([
            "store",
            "--label=edited",
            "service",
            "nomadctx",
            "username",
            &account,
        ])
        .stdin("tok\r\nX-Injected: 1")
        .succeeds();
    for args in [
        &["check", "prod"][..],
        &["use", "prod", "--shell", "bash"],
        &["exec", "prod", "--", "true"],
    ] {
        world
            .cmd()
            .args(args)
            .fails()
            .stderr_has("not one line of text")
            .stderr_has("nomadctx set prod --token-stdin");
    }
    assert!(
        !attacker.received().contains("X-Injected"),
        "{}",
        attacker.received()
    );
}

#[test]
fn export_p12_writes_where_asked_and_replaces_only_regular_files() {
    let world = World::new();
    add_with(&world, "prod", &pki().identity("ec"), &[]);
    let export = |output: &str| {
        world
            .cmd()
            .args(["export-p12", "prod", "--password-stdin", "-o", output])
            .stdin("pw\n")
    };
    // The README's own `-o prod.p12`: relative to the current directory (HOME here).
    export("prod.p12").succeeds();
    let bundle = world.home.join("prod.p12");
    let mode = std::fs::metadata(&bundle).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // No directory is made for a mistyped path.
    export("no/such/dir/prod.p12")
        .fails()
        .stderr_has("does not exist");
    assert!(!world.home.join("no").exists());

    // A symlink is not followed and not replaced; nor is a named pipe (a device as root).
    let victim = world.home.join("victim");
    std::fs::write(&victim, "keep me").unwrap();
    std::os::unix::fs::symlink(&victim, world.home.join("link.p12")).unwrap();
    export("link.p12").fails().stderr_has("is a symlink");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    assert!(world.home.join("link.p12").is_symlink());
    nix::unistd::mkfifo(&world.home.join("fifo.p12"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    export("fifo.p12").fails().stderr_has("is a named pipe");
    export(world.home.to_str().unwrap())
        .fails()
        .stderr_has("is a directory");
    // An existing bundle is replaced, as asked.
    export("prod.p12").succeeds();
}

#[test]
fn remove_key_file_does_not_leave_the_key_behind_a_link() {
    let world = World::new();
    let id = pki().identity("ec");
    let dir = world.tmp.path().join("keys");
    std::fs::create_dir(&dir).unwrap();
    let key = dir.join("key.pem");
    std::fs::copy(&id.key, &key).unwrap();
    let link = dir.join("link.pem");
    std::os::unix::fs::symlink(&key, &link).unwrap();
    let add = |key: &Path| {
        let with_key = Identity {
            key: key.to_path_buf(),
            ..id.clone()
        };
        add_cmd(&world, "prod", &with_key).arg("--remove-key-file")
    };
    let before = world.snapshot();
    add(&link)
        .fails()
        .stderr_has("is a symlink")
        .stderr_has(&key.display().to_string());
    assert!(key.exists() && link.exists());
    assert!(
        world.snapshot() == before,
        "a refused add changed something"
    );

    let hard = dir.join("hard.pem");
    std::fs::hard_link(&key, &hard).unwrap();
    add(&key).fails().stderr_has("2 hard links");
    assert!(
        world.snapshot() == before,
        "a refused add changed something"
    );

    std::fs::remove_file(&hard).unwrap();
    std::fs::remove_file(&link).unwrap();
    add(&key).succeeds().stderr_has("removed the key file");
    assert!(!key.exists());
}

#[test]
fn a_relative_runtime_dir_is_never_used() {
    let world = World::new();
    add_with(&world, "prod", &pki().identity("ec"), &[]);
    world
        .cmd()
        .args(["use", "prod", "--shell", "bash"])
        .env("NOMADCTX_RUNTIME_DIR", "keys")
        .fails()
        .stderr_has("NOMADCTX_RUNTIME_DIR keys is not an absolute path");
    assert!(!world.home.join("keys").exists());
}

#[test]
fn a_named_pipe_as_config_toml_is_refused_at_once() {
    let world = World::headless();
    std::fs::create_dir_all(&world.config_dir).unwrap();
    let config = world.config_dir.join("config.toml");
    crate::harness::mkfifo(&config);
    let out = crate::harness::ends_in_time(world.cmd().args(["list"]));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is a named pipe, not a regular file"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_runtime_dir_that_does_not_exist_is_refused_with_what_to_do() {
    let world = World::new();
    add_with(&world, "prod", &pki().identity("ec"), &[]);
    let missing = world.tmp.path().join("run-of-another-session");
    let out = world
        .cmd()
        .args(["use", "prod", "--shell", "bash"])
        .env("XDG_RUNTIME_DIR", &missing)
        .fails();
    assert_eq!(out.code(), 1);
    out.stderr_has(&format!(
        "XDG_RUNTIME_DIR {} does not exist",
        missing.display()
    ))
    .stderr_has("unset it")
    .stderr_has("su -")
    .stderr_has("NOMADCTX_RUNTIME_DIR");
    assert!(out.stdout.is_empty());
    assert!(!missing.exists());
}

#[test]
fn a_refused_runtime_dir_is_said_before_the_passphrase_is_asked_for() {
    let world = World::headless();
    let keys = KernelSession::new();
    keys.cmd(&world)
        .args(["keychain", "use", "file", "--passphrase-stdin"])
        .stdin("correct horse battery staple\n")
        .succeeds();
    add_args(keys.cmd(&world), "prod", &pki().identity("ec")).succeeds();
    keys.cmd(&world).arg("lock").succeeds();
    // Locked, and no terminal to ask on: the runtime dir's refusal must come first, not
    // "locked" (or, on a terminal, a passphrase prompt and an unlock for hours).
    let out = keys
        .cmd(&world)
        .args(["use", "prod", "--shell", "bash"])
        .env("XDG_RUNTIME_DIR", world.tmp.path().join("gone"))
        .fails();
    out.stderr_has("does not exist");
    assert!(
        !out.stderr_text().contains("locked"),
        "{}",
        out.stderr_text()
    );
}

#[test]
fn a_use_killed_before_printing_leaves_a_file_its_shell_s_next_use_removes() {
    let world = World::new();
    add_with(&world, "prod", &pki().identity("ec"), &[]);
    let key_files = || -> Vec<PathBuf> {
        std::fs::read_dir(world.runtime_dir.join("nomadctx"))
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default()
    };
    // This test's process is the "shell" each `use` writes for.
    kill_at_step(
        world.cmd().args(["use", "prod", "--shell", "bash"]),
        "",
        "use-print",
    );
    let orphan = key_files();
    assert_eq!(orphan.len(), 1, "{orphan:?}");
    let out = world
        .cmd()
        .args(["use", "prod", "--shell", "bash"])
        .succeeds();
    let now = key_files();
    assert_eq!(now.len(), 1, "{now:?}");
    assert_ne!(now, orphan);
    out.stdout_has(&now[0].display().to_string());
}

/// `script` as root of a user namespace with a mount namespace whose /dev/shm is a fresh
/// tmpfs (what a server has, without touching this machine's), the kernel keyring as the
/// keychain and no XDG_RUNTIME_DIR: su, cron and containers look like this.
fn without_runtime_dir(world: &World, script: &str) -> std::process::Output {
    require_tool("unshare");
    require_tool("keyctl");
    let id = pki().identity("ec");
    world
        .program("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-euc"])
        .arg(format!(
            "mount -t tmpfs -o mode=1777 tmpfs /dev/shm\n{script}"
        ))
        .arg("sh")
        .arg(&id.ca)
        .arg(&id.cert)
        .arg(&id.key)
        .env_remove("XDG_RUNTIME_DIR")
        .env("NOMADCTX_KEYCHAIN", "keyutils")
        .env("TMPDIR", world.tmp.path())
        .output()
}

#[test]
fn without_xdg_runtime_dir_keys_go_to_memory() {
    let world = World::new();
    let out = without_runtime_dir(
        &world,
        r#"keyctl session - sh -euc '
            nomadctx add prod --address https://127.0.0.1:4646 --ca "$1" --cert "$2" --key "$3" 2>/dev/null
            eval "$(nomadctx use prod --shell sh)"
            echo "key=$NOMAD_CLIENT_KEY"
            stat -c "file=%a dir=" "$NOMAD_CLIENT_KEY" | tr -d "\n"
            stat -c "%a" "$(dirname "$NOMAD_CLIENT_KEY")"
            # The XDG spec says to ignore a relative XDG_RUNTIME_DIR: not the current dir.
            eval "$(XDG_RUNTIME_DIR=run nomadctx use prod --shell sh)"
            echo "relative=$NOMAD_CLIENT_KEY"
            test ! -e run
        ' sh "$@""#,
    );
    let stdout = out.stdout_text();
    assert!(out.status.success(), "{stdout}{}", out.stderr_text());
    assert!(
        stdout.contains("key=/dev/shm/nomadctx-0/key-"),
        "{stdout}{}",
        out.stderr_text()
    );
    assert!(stdout.contains("file=600 dir=700"), "{stdout}");
    assert!(
        stdout.contains("relative=/dev/shm/nomadctx-0/key-"),
        "{stdout}"
    );
    assert!(
        !out.stderr_text().contains("warning"),
        "{}",
        out.stderr_text()
    );
}

#[test]
fn without_xdg_runtime_dir_or_memory_a_warning_says_keys_are_on_disk() {
    let world = World::new();
    // /dev/shm as a directory on disk, as on a system that does not mount it.
    let disk = world.tmp.path().join("not-shm");
    std::fs::create_dir(&disk).unwrap();
    let out = without_runtime_dir(
        &world,
        &format!(
            r#"mount --bind {disk:?} /dev/shm
            keyctl session - sh -euc '
                nomadctx add prod --address https://127.0.0.1:4646 --ca "$1" --cert "$2" --key "$3" 2>/dev/null
                nomadctx use prod --shell bash
            ' sh "$@""#
        ),
    );
    assert!(out.status.success(), "{}", out.stderr_text());
    let fallback = world.tmp.path().join("nomadctx-0");
    out.stderr_has("XDG_RUNTIME_DIR is not set")
        .stderr_has(&format!("go to {} on disk", fallback.display()))
        .stdout_has(&fallback.display().to_string());
}

#[test]
fn keychain_timeouts_a_duration_cannot_hold_are_refused_with_a_warning() {
    let world = World::new();
    add_with(&world, "prod", &pki().identity("ec"), &[]);
    for timeout in ["inf", "1e300", "NaN", "-1"] {
        world
            .cmd()
            .args(["exec", "prod", "--", "true"])
            .env("NOMADCTX_KEYCHAIN_TIMEOUT", timeout)
            .succeeds()
            .stderr_has(&format!(
                "NOMADCTX_KEYCHAIN_TIMEOUT={timeout} is not a number of seconds"
            ));
    }
}

#[test]
fn without_a_secret_service_the_error_is_short_and_names_the_choices() {
    let world = World::without_keychain();
    let add_token = || {
        world
            .cmd()
            .args([
                "add",
                "prod",
                "--address",
                "https://127.0.0.1:4646",
                "--token-stdin",
            ])
            .stdin("tok\n")
    };
    let no_bus = add_token().env_remove("DBUS_SESSION_BUS_ADDRESS").fails();
    let no_service = add_token().fails();
    let dead_bus = add_token()
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", world.tmp.path().join("no-bus").display()),
        )
        .fails();
    for (out, why) in [
        (no_bus, "DBUS_SESSION_BUS_ADDRESS is not set"),
        (no_service, "no Secret Service runs on this session's D-Bus"),
        (
            dead_bus,
            "the bus DBUS_SESSION_BUS_ADDRESS names does not answer (No such file or directory)",
        ),
    ] {
        let text = out.stderr_text();
        out.stderr_has("context \"prod\": there is no Secret Service here")
            .stderr_has(why)
            .stderr_has("nomadctx keychain use file ")
            .stderr_has("nomadctx keychain use keyutils ")
            .stderr_has("lost at reboot")
            .stderr_has("dbus-run-session -- $SHELL")
            .stderr_has("See docs/headless.md (\"Headless servers\")");
        assert!(text.lines().count() <= 6, "not short:\n{text}");
        assert!(
            !text.contains("X11") && !text.contains("autolaunch"),
            "{text}"
        );
        assert!(
            text.lines().all(|l| l.chars().count() <= 200),
            "a line too long to read:\n{text}"
        );
    }
    assert!(world.config().contexts.is_empty());
    let doctor = world.cmd().arg("doctor").fails();
    doctor
        .stderr_has("could not list nomadctx's items: there is no Secret Service here")
        .stderr_has("See docs/headless.md (\"Headless servers\")");
    assert!(
        !doctor.stderr_text().contains("\"*\""),
        "{}",
        doctor.stderr_text()
    );
}

#[test]
fn writers_check_the_directory_before_creating_the_lock_file() {
    let world = World::new();
    context_with_token(&world, "https://127.0.0.1:4646");
    chmod(&world.config_dir, 0o770);
    let victim = world.tmp.path().join("created-by-the-victim");
    let lock = world.config_dir.join(".lock");
    std::fs::remove_file(&lock).unwrap();
    std::os::unix::fs::symlink(&victim, &lock).unwrap();
    for args in [
        &["remove", "prod"][..],
        &["default", "prod"],
        &["rename", "prod", "p"],
    ] {
        world
            .cmd()
            .args(args)
            .fails()
            .stderr_has("config directory")
            .stderr_has("chmod 750");
    }
    assert!(!victim.exists(), "the lock's symlink was followed");
    chmod(&world.config_dir, 0o700);
    world
        .cmd()
        .args(["default", "prod"])
        .fails()
        .stderr_has("lock file");
    std::fs::remove_file(&lock).unwrap();
    world.cmd().args(["default", "prod"]).succeeds();
    let mode = std::fs::metadata(&lock).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn certificate_files_others_can_write_are_refused() {
    let world = World::new();
    context_with_token(&world, "https://127.0.0.1:4646");
    let ca = world.cert_file("prod", "ca");
    chmod(&ca, 0o666);
    world
        .cmd()
        .args(["use", "prod", "--shell", "bash"])
        .fails()
        .stderr_has("certificate file")
        .stderr_has("chmod 644");
}

#[test]
fn list_escapes_hand_edited_values() {
    let world = World::new();
    context_with_token(&world, "https://127.0.0.1:4646");
    let config = world.config_dir.join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let edited = text.replace(
        "address = ",
        "region = \"r\\u001b]52;c;aGk=\\u0007x\"\nnamespace = \"n\\u202eabc\"\naddress = ",
    );
    std::fs::write(&config, edited).unwrap();
    for args in [&["list"][..], &["list", "--json"]] {
        let out = world.cmd().args(args).succeeds();
        let shown = out.stdout_text();
        assert!(
            !shown.contains('\u{1b}') && !shown.contains('\u{202e}') && !shown.contains('\u{7}'),
            "{args:?}: {shown:?}"
        );
    }
}

#[test]
fn export_p12_refuses_a_directory_path_before_asking_for_a_password() {
    let world = World::new();
    add_with(&world, "prod", &pki().identity("ec"), &[]);
    world
        .cmd()
        .args(["export-p12", "prod", "-o", "new.p12/"])
        .fails()
        .stderr_has("is not a file name");
}
