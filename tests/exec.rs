//! `exec`: the child and a non-inheriting grandchild read the key from memory, stale
//! variables are gone, and exit statuses and signals behave as in a shell.

mod harness;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use harness::{OutputExt, World, add_with, pki, squash};

fn prod() -> World {
    let world = World::new();
    add_with(&world, "prod", &pki().identity("ec"), &["--region", "eu"]);
    world
}

#[test]
fn child_and_non_inheriting_grandchild_read_the_key_which_never_touches_disk() {
    let world = prod();
    let script = r#"
import os, subprocess, sys
path = os.environ["NOMAD_CLIENT_KEY"]
sys.stdout.write(open(path).read())
# Python's subprocess closes inherited descriptors, as Terraform's plugin launcher does.
sys.stdout.flush()
subprocess.run(["cat", path], check=True, close_fds=True)
print("PATH-IS", path)
"#;
    let out = world
        .cmd()
        .args(["exec", "prod", "--", "python3", "-c", script])
        .succeeds();
    let text = out.stdout_text();
    let key = String::from_utf8(pki().identity("ec").key_pem()).unwrap();
    assert_eq!(
        text.matches("-----BEGIN PRIVATE KEY-----").count(),
        2,
        "child and grandchild: {text}"
    );
    assert!(
        squash(text.as_bytes())
            .windows(squash(key.as_bytes()).len())
            .any(|w| w == squash(key.as_bytes()))
    );
    let path = text
        .lines()
        .find_map(|l| l.strip_prefix("PATH-IS "))
        .unwrap();
    assert!(
        path.starts_with("/proc/") && path.contains("/fd/"),
        "key path {path} should be a memfd"
    );
    let key_line = key.lines().nth(1).unwrap().as_bytes();
    assert!(
        world.files_containing(key_line).is_empty(),
        "key bytes in a file"
    );
}

#[test]
fn stale_nomad_variables_are_removed_and_context_ones_set() {
    let world = prod();
    let out = world
        .cmd()
        .args(["exec", "prod", "--", "env"])
        .env("NOMAD_TOKEN", "stale-token")
        .env("NOMAD_NAMESPACE", "stale-ns")
        .env("NOMAD_REGION", "stale-region")
        .env("NOMAD_CACERT", "/stale/ca.pem")
        .env("NOMAD_SKIP_VERIFY", "stale")
        .env("NOMADCTX_CONTEXT", "stale-context")
        .succeeds();
    let env = out.stdout_text();
    assert!(env.contains("NOMAD_ADDR=https://127.0.0.1:4646\n"), "{env}");
    assert!(env.contains("NOMAD_REGION=eu\n"));
    assert!(env.contains("NOMADCTX_CONTEXT=prod\n"));
    assert!(!env.contains("stale"), "{env}");
}

/// Issue 11, case 10: only the variables a context controls are replaced; the user's own
/// Nomad CLI settings and other NOMAD_* variables reach the command, as they do after `use`.
#[test]
fn the_users_other_nomad_settings_reach_the_command() {
    let world = prod();
    let out = world
        .cmd()
        .args(["exec", "prod", "--", "env"])
        .env("NOMAD_CLI_NO_COLOR", "1")
        .env("NOMAD_CLI_SHOW_HINTS", "0")
        .env("NOMAD_SOMETHING_NEW", "kept")
        .env("NOMAD_TOKEN", "token-of-another-cluster")
        .succeeds();
    let env = out.stdout_text();
    for kept in [
        "NOMAD_CLI_NO_COLOR=1\n",
        "NOMAD_CLI_SHOW_HINTS=0\n",
        "NOMAD_SOMETHING_NEW=kept\n",
        "NOMAD_REGION=eu\n",
    ] {
        assert!(env.contains(kept), "{kept:?} missing: {env}");
    }
    assert!(!env.contains("NOMAD_TOKEN"), "{env}");
}

#[test]
fn name_defaults_to_the_current_context() {
    let world = prod();
    world
        .cmd()
        .args(["add", "dev", "--address", "http://127.0.0.1:1"])
        .succeeds();
    let via_env = world
        .cmd()
        .args(["exec", "--", "sh", "-c", "echo $NOMAD_ADDR"])
        .env("NOMADCTX_CONTEXT", "dev")
        .succeeds();
    assert_eq!(via_env.stdout_text(), "http://127.0.0.1:1\n");
    let via_flag = world
        .cmd()
        .args([
            "--context",
            "prod",
            "exec",
            "--",
            "sh",
            "-c",
            "echo $NOMAD_ADDR",
        ])
        .succeeds();
    assert_eq!(via_flag.stdout_text(), "https://127.0.0.1:4646\n");
    world
        .cmd()
        .args(["exec", "--", "true"])
        .fails()
        .stderr_has("known contexts: dev, prod");
}

#[test]
fn exit_status_and_death_by_signal_are_reported_like_a_shell() {
    let world = prod();
    assert_eq!(
        world
            .cmd()
            .args(["exec", "prod", "--", "sh", "-c", "exit 7"])
            .output()
            .code(),
        7
    );
    assert_eq!(
        world
            .cmd()
            .args(["exec", "prod", "--", "sh", "-c", "kill -TERM $$"])
            .output()
            .code(),
        143
    );
    assert_eq!(
        world
            .cmd()
            .args(["exec", "prod", "--", "sh", "-c", "kill -KILL $$"])
            .output()
            .code(),
        137
    );
    let missing = world
        .cmd()
        .args(["exec", "prod", "--", "no-such-command-xyz"])
        .output();
    assert_eq!(missing.code(), 127);
    missing.stderr_has("\"no-such-command-xyz\" not found");
    let not_exec = world.tmp.path().join("not-executable");
    std::fs::write(&not_exec, "#!/bin/sh\n").unwrap();
    assert_eq!(
        world
            .cmd()
            .args(["exec", "prod", "--"])
            .arg(&not_exec)
            .output()
            .code(),
        127
    );
}

#[test]
fn sigterm_and_sighup_sent_to_nomadctx_reach_the_child() {
    let world = prod();
    for signal in ["TERM", "HUP"] {
        let script = format!(
            "trap 'echo got-{signal}; exit 3' {signal}; echo ready; while :; do sleep 0.05; done"
        );
        let mut run = world
            .cmd()
            .args(["exec", "prod", "--", "bash", "-c", &script])
            .cmd;
        let mut child = run
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        assert_eq!(lines.next().unwrap().unwrap(), "ready");
        let killed = std::process::Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        assert_eq!(lines.next().unwrap().unwrap(), format!("got-{signal}"));
        assert_eq!(child.wait().unwrap().code(), Some(3), "{signal}");
    }
}

/// A terminal's Ctrl-C goes to the whole foreground process group: the child must see it
/// exactly once, and nomadctx must stay to report the child's status.
#[test]
fn ctrl_c_in_a_terminal_reaches_the_child_once() {
    let world = prod();
    let child = r#"
import signal, sys, time
n = 0
def count(*_):
    global n
    n += 1
signal.signal(signal.SIGINT, count)
print("ready", flush=True)
end = time.time() + 1.5
while time.time() < end:
    time.sleep(0.02)
print(f"ints={n}", flush=True)
sys.exit(5)
"#;
    let terminal = r#"
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
buf = b""
while b"ready" not in buf:
    buf += os.read(fd, 1024)
os.write(fd, b"\x03")
while True:
    try:
        data = os.read(fd, 1024)
    except OSError:
        break
    if not data:
        break
    buf += data
_, status = os.waitpid(pid, 0)
sys.stdout.write(buf.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
"#;
    let out = world
        .program("python3")
        .args([
            "-c", terminal, "nomadctx", "exec", "prod", "--", "python3", "-c", child,
        ])
        .output();
    let text = out.stdout_text();
    assert!(
        text.contains("ints=1"),
        "the child should count one SIGINT: {text}"
    );
    assert_eq!(out.code(), 5, "nomadctx reports the child's status: {text}");
}
