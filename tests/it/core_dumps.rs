//! Key and token bytes stay out of core dumps: nomadctx's core size limit is 0 and, except
//! for `exec` and `shell`, it cannot be traced or dumped at all; the commands `exec` runs
//! keep the user's own limit and can still open their key path.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{OutputExt, World, add_cmd, add_with, key_der, pki};

const TOKEN: &str = "acl-token-4d0b7d9e-core-dumps";

/// The soft and hard "Max core file size" of a process, as /proc/PID/limits shows them.
fn core_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    parse_core_limits(&limits)
}

fn parse_core_limits(limits: &str) -> (String, String) {
    let line = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max core file size"))
        .expect("a core size line");
    let mut fields = line.split_whitespace();
    (
        fields.next().unwrap().to_owned(),
        fields.next().unwrap().to_owned(),
    )
}

/// Files named core or core.* (the kernel's plain core patterns) in `dir`.
fn cores_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n == "core" || n.starts_with("core."))
        })
        .collect()
}

/// `program ARGS` run by bash in `dir` with the soft core limit raised to the hard one, as
/// after `ulimit -c unlimited`.
fn with_cores_allowed(world: &World, dir: &Path, program: &[&str]) -> Child {
    world
        .program("bash")
        .args([
            "-c",
            r#"ulimit -S -c "$(ulimit -H -c)" && cd "$1" && shift && exec "$@""#,
            "bash",
        ])
        .arg(dir)
        .args(program)
        .cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn abort(child: &mut Child) -> std::process::ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    let sent = Command::new("kill")
        .args(["-ABRT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(6), "{status:?}");
    status
}

/// Whether this system writes a plain core file for a process that allows it: the kernel's
/// core_pattern is a file name (not a pipe to systemd-coredump or apport) and an aborted
/// `sleep` with the limit raised leaves one.
fn dumps_cores_to_files(world: &World) -> bool {
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
    if pattern.starts_with('|') || pattern.contains('/') {
        return false;
    }
    let dir = world.tmp.path().join("control");
    std::fs::create_dir_all(&dir).unwrap();
    let mut sleep = with_cores_allowed(world, &dir, &["sleep", "60"]);
    // The limit is raised before the exec: wait for sleep to be sleep.
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(format!("/proc/{}/comm", sleep.id())).unwrap_or_default()
        != "sleep\n"
    {
        assert!(Instant::now() < deadline, "sleep did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    abort(&mut sleep);
    !cores_in(&dir).is_empty()
}

/// A server that accepts a connection and never answers; the connection, once made.
fn silent_server() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

fn wait_for_connection(listener: &TcpListener, client: &mut Child) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match listener.accept() {
            Ok((stream, _)) => return stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("accept: {e}"),
        }
        if let Some(status) = client.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(client.stderr.as_mut().unwrap(), &mut err).unwrap();
            panic!("the client ended ({status}) before it connected: {err}");
        }
        assert!(Instant::now() < deadline, "no connection within 30 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Issue 11, case 4: `ulimit -c unlimited; nomadctx check prod &` against a server that
/// never answers, then SIGABRT, wrote a core file with the EC private key and the token.
/// Now nomadctx's soft core limit is 0 while it holds them, and even with that limit raised
/// back from outside (prlimit) it is not dumpable, so the abort leaves no core file.
#[test]
fn check_holding_the_key_and_token_leaves_no_core_dump() {
    let world = World::new();
    let ec = pki().identity("ec");
    let (listener, port) = silent_server();
    add_cmd(&world, "prod", &ec)
        .arg("--token-stdin")
        .stdin(TOKEN)
        .succeeds();
    world
        .cmd()
        .args([
            "set",
            "prod",
            "--address",
            &format!("https://127.0.0.1:{port}"),
        ])
        .succeeds();
    let user_hard = parse_core_limits(&std::fs::read_to_string("/proc/self/limits").unwrap()).1;
    let real_dumps = dumps_cores_to_files(&world);

    let dir = world.tmp.path().join("check");
    std::fs::create_dir_all(&dir).unwrap();
    let mut check = with_cores_allowed(&world, &dir, &["nomadctx", "check", "prod"]);
    let connection = wait_for_connection(&listener, &mut check);
    // The key and the token are in memory now: the TLS handshake is under way.
    assert_eq!(
        core_limits(check.id()),
        ("0".to_owned(), user_hard),
        "nomadctx check may dump core"
    );
    if !real_dumps {
        eprintln!(
            "this system writes no plain core files (core_pattern is a pipe, or cores are off): only the limit was checked"
        );
        abort(&mut check);
        return;
    }
    let raised = Command::new("python3")
        .args([
            "-c",
            "import resource, sys; pid = int(sys.argv[1]); _, hard = resource.prlimit(pid, resource.RLIMIT_CORE); resource.prlimit(pid, resource.RLIMIT_CORE, (hard, hard))",
            &check.id().to_string(),
        ])
        .status()
        .unwrap();
    assert!(raised.success(), "prlimit");
    assert_ne!(core_limits(check.id()).0, "0");
    abort(&mut check);
    drop(connection);
    let cores = cores_in(&dir);
    let holding: Vec<String> = cores
        .iter()
        .map(|core| {
            let bytes = std::fs::read(core).unwrap();
            let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
            format!(
                "{}: key {}, token {}",
                core.display(),
                has(&key_der(&ec.key)),
                has(TOKEN.as_bytes())
            )
        })
        .collect();
    assert!(cores.is_empty(), "core files written: {holding:?}");
}

/// nomadctx exec keeps its own core limit at 0 while the command runs, but the command has
/// the limit the user set (`ulimit -c` must not change for the user's own programs).
#[test]
fn exec_dumps_no_core_itself_but_the_command_keeps_the_users_core_limit() {
    let world = World::new();
    add_with(&world, "prod", &pki().identity("ec"), &[]);
    let script = r#"ulimit -S -c "$(ulimit -H -c)"
echo "user $(grep 'core file' /proc/self/limits)"
exec nomadctx exec prod -- sh -c 'echo "command $(grep "core file" /proc/self/limits)"; echo "nomadctx $(grep "core file" /proc/$PPID/limits)"; head -1 "$NOMAD_CLIENT_KEY"'"#;
    let out = world.program("bash").args(["-c", script]).succeeds();
    let text = out.stdout_text();
    let limits = |who: &str| {
        parse_core_limits(
            text.lines()
                .find_map(|l| l.strip_prefix(who))
                .unwrap_or_else(|| panic!("no {who} line: {text}")),
        )
    };
    let user = limits("user ");
    if user.0 == "0" {
        eprintln!("the hard core limit is 0 here: nothing to tell apart");
        return;
    }
    assert_eq!(limits("command "), user, "{text}");
    assert_eq!(
        limits("nomadctx "),
        ("0".to_owned(), user.1.clone()),
        "{text}"
    );
    out.stdout_has("-----BEGIN PRIVATE KEY-----");
}

/// `exec` cannot make itself undumpable: its command and a grandchild that inherits no
/// descriptor open the key at /proc/<nomadctx pid>/fd/N, which the kernel refuses to
/// everyone but a privileged user when nomadctx is not dumpable. Run unprivileged (a user
/// namespace with another uid), since root would be let through anyway.
#[test]
fn an_unprivileged_exec_command_and_grandchild_still_open_the_key_path() {
    crate::harness::require_tool("unshare");
    crate::harness::require_tool("keyctl");
    let world = World::new();
    let ec = pki().identity("ec");
    let reader = r#"
import os, subprocess, sys
path = os.environ["NOMAD_CLIENT_KEY"]
print("uid", os.getuid(), "path", path)
print(open(path).readline().strip())
sys.stdout.flush()
subprocess.run(["head", "-1", path], check=True, close_fds=True)
"#;
    let out = world
        .program("unshare")
        .args([
            "--user",
            "--map-user=4242",
            "--map-group=4242",
            "keyctl",
            "session",
            "-",
            "bash",
            "-c",
            r#"nomadctx add prod --address https://127.0.0.1:4646 --cert "$1" --key "$2" && exec nomadctx exec prod -- python3 -c "$3""#,
            "bash",
        ])
        .arg(&ec.cert)
        .arg(&ec.key)
        .arg(reader)
        .env("NOMADCTX_KEYCHAIN", "keyutils")
        .output();
    let text = out.stdout_text();
    assert!(out.status.success(), "{text}{}", out.stderr_text());
    assert!(text.contains("uid 4242 path /proc/"), "{text}");
    assert_eq!(
        text.matches("-----BEGIN PRIVATE KEY-----").count(),
        2,
        "command and grandchild: {text}"
    );
}
