//! `exec`: the child and a non-inheriting grandchild read the key from memory, stale
//! variables are gone, and exit statuses and signals behave as in a shell.

use std::io::{BufRead, BufReader, Lines};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{OutputExt, Step, World, add_with, pki, squash};

use Step::{Expect, Send};

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

/// `nomadctx exec prod -- bash -c SCRIPT` started as a shell starts a job (in a process
/// group of its own), with its standard output read line by line. Dropping it kills the
/// whole group, so that a failed test leaves no stopped process behind.
struct Job {
    nomadctx: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Job {
    fn start(world: &World, script: &str) -> Self {
        let mut run = world
            .cmd()
            .args(["exec", "prod", "--", "bash", "-c", script])
            .cmd;
        let mut nomadctx = run
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let lines = BufReader::new(nomadctx.stdout.take().unwrap()).lines();
        Self { nomadctx, lines }
    }

    fn pid(&self) -> u32 {
        self.nomadctx.id()
    }

    /// The command's next line of output; fails the test when there is none.
    fn line(&mut self) -> String {
        match self.lines.next() {
            Some(line) => line.unwrap(),
            None => panic!("the command ended without another line of output"),
        }
    }

    /// Sends `signal` (a name, as `kill` takes it) to nomadctx alone.
    fn signal(&self, signal: &str) {
        signal_pid(self.pid(), signal);
    }

    fn exit_code(&mut self) -> Option<i32> {
        self.nomadctx.wait().unwrap().code()
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        let group = format!("-{}", self.pid());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.nomadctx.wait();
    }
}

fn signal_pid(pid: u32, signal: &str) {
    let sent = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{signal} {pid}");
}

/// A shell loop that ends by itself, so that a signal that never arrives fails the test
/// instead of hanging it.
const WAIT_A_WHILE: &str =
    "end=$((SECONDS + 30)); while [ $SECONDS -lt $end ]; do sleep 0.05; done; echo timed-out";

/// Issue 11, case 6: every signal a process can catch, sent to nomadctx alone (by kill, a
/// supervisor, a timeout), reaches the command, and nomadctx exits with its status.
/// SIGUSR1, SIGUSR2, SIGALRM and SIGABRT used to kill nomadctx and leave the command
/// running with a dead key path.
#[test]
fn every_catchable_signal_sent_to_nomadctx_reaches_the_command() {
    let world = prod();
    for signal in [
        "HUP", "INT", "QUIT", "TERM", "USR1", "USR2", "ALRM", "ABRT", "URG", "XCPU", "XFSZ",
        "VTALRM", "PROF", "WINCH", "IO", "PWR",
    ] {
        let mut job = Job::start(
            &world,
            &format!("trap 'echo got-{signal}; exit 3' {signal}; echo ready; {WAIT_A_WHILE}"),
        );
        assert_eq!(job.line(), "ready");
        job.signal(signal);
        assert_eq!(job.line(), format!("got-{signal}"));
        assert_eq!(job.exit_code(), Some(3), "{signal}");
    }
}

/// A signal the command does not handle kills it, and nomadctx reports that as a shell
/// does (128+N) instead of dying of it first.
#[test]
fn a_forwarded_signal_that_kills_the_command_is_its_exit_status() {
    let world = prod();
    for (signal, code) in [("USR1", 128 + 10), ("ALRM", 128 + 14), ("ABRT", 128 + 6)] {
        let mut job = Job::start(&world, "echo ready; exec sleep 30");
        assert_eq!(job.line(), "ready");
        job.signal(signal);
        assert_eq!(job.exit_code(), Some(code), "{signal}");
    }
}

/// The state letter of /proc/PID/stat (R, S, T, Z, …).
fn state(pid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    stat[stat.rfind(')').unwrap() + 1..]
        .trim_start()
        .chars()
        .next()
        .unwrap()
}

fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Issue 11, case 6: `kill -TSTP` on nomadctx stopped nomadctx alone while the command
/// ran on. Now the command stops, then nomadctx with it (as a shell sees a job stop); a
/// SIGCONT to nomadctx continues both, and the key path still works.
#[test]
fn sigtstp_stops_the_command_with_nomadctx_and_sigcont_resumes_both() {
    let world = prod();
    let go = world.tmp.path().join("go");
    let mut job = Job::start(
        &world,
        &format!(
            "echo \"ready $$\"; end=$((SECONDS + 30)); while [ ! -e '{go}' ] && [ $SECONDS -lt $end ]; do sleep 0.02; done; head -1 \"$NOMAD_CLIENT_KEY\"",
            go = go.display()
        ),
    );
    let command: u32 = job.line().strip_prefix("ready ").unwrap().parse().unwrap();
    let nomadctx = job.pid();

    job.signal("TSTP");
    wait_until("the command has stopped", || state(command) == 'T');
    wait_until("nomadctx has stopped", || state(nomadctx) == 'T');

    job.signal("CONT");
    wait_until("the command runs again", || state(command) != 'T');
    wait_until("nomadctx runs again", || state(nomadctx) != 'T');
    std::fs::write(&go, "").unwrap();
    assert_eq!(job.line(), "-----BEGIN PRIVATE KEY-----");
    assert_eq!(job.exit_code(), Some(0));
}

/// Ctrl-Z in an interactive shell stops the job (nomadctx and its command), `fg` brings it
/// back, and the command still reads its key.
#[test]
fn ctrl_z_stops_the_job_and_fg_resumes_it_in_an_interactive_shell() {
    let world = prod();
    std::fs::write(world.home.join(".bashrc"), "PS1='$ '\n").unwrap();
    world.terminal(
        &[
            Expect(r"\$ "),
            Send(
                "nomadctx exec prod -- sh -c 'echo ready; read line; head -1 \"$NOMAD_CLIENT_KEY\"; echo \"got $line\"'\r",
            ),
            Expect("ready"),
            Send("\x1a"),
            Expect("Stopped"),
            Expect(r"\$ "),
            Send("fg\r"),
            Expect("nomadctx exec prod"),
            Send("hello\r"),
            Expect("-----BEGIN PRIVATE KEY-----"),
            Expect("got hello"),
            Send("echo \"status=$?\"\r"),
            Expect("status=0"),
            Send("exit\r"),
        ],
        &["bash", "-i"],
        &[],
    );
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

#[test]
fn an_inherited_ignored_sigchld_does_not_lose_the_command_s_status() {
    let world = World::new();
    add_with(&world, "prod", &pki().identity("ec"), &[]);
    // A parent that ignores SIGCHLD passes that on through exec.
    let out = world
        .program("python3")
        .args([
            "-c",
            "import os, signal, sys; signal.signal(signal.SIGCHLD, signal.SIG_IGN); os.execvp(sys.argv[1], sys.argv[1:])",
            "nomadctx",
            "exec",
            "prod",
            "--",
            "sh",
            "-c",
            "exit 3",
        ])
        .output();
    assert_eq!(out.code(), 3, "{}", out.stderr_text());
}

#[test]
fn signals_the_user_ignored_stay_ignored_as_with_nohup() {
    let world = World::new();
    add_with(&world, "prod", &pki().identity("ec"), &[]);
    // What nohup and `trap '' HUP` leave: HUP ignored, for nomadctx and for its command.
    let out = world
        .program("sh")
        .args([
            "-c",
            "trap '' HUP; exec nomadctx exec prod -- sh -c 'kill -HUP $$; echo survived'",
        ])
        .output();
    assert_eq!(out.code(), 0, "{}", out.stderr_text());
    out.stdout_has("survived");
}

#[test]
fn a_deleted_certificate_file_is_named_not_handed_to_nomad() {
    let world = World::new();
    add_with(&world, "prod", &pki().identity("ec"), &[]);
    std::fs::remove_file(world.cert_file("prod", "ca")).unwrap();
    world
        .cmd()
        .args(["exec", "prod", "--", "true"])
        .fails()
        .stderr_has("context \"prod\": its CA file")
        .stderr_has("is missing; put it back with `nomadctx set prod --ca FILE`");
    std::fs::remove_dir_all(world.config_dir.join("certs")).unwrap();
    world
        .cmd()
        .args(["use", "prod", "--shell", "bash"])
        .fails()
        .stderr_has("context \"prod\": its CA file");
}
