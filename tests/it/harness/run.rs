//! The command builder: nomadctx (or any program) with the world's environment and
//! nothing else, what it printed, and the common ways to add a context.

use super::*;

/// A command being built; run it with one of the terminal methods.
pub struct Run {
    pub cmd: Command,
    stdin: Option<Vec<u8>>,
}

impl Run {
    /// `cmd`, with nothing on its stdin until `stdin` says so.
    pub fn new(cmd: Command) -> Self {
        Self { cmd, stdin: None }
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.arg(arg);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: &str) -> Self {
        self.cmd.env_remove(key);
        self
    }

    /// `--ca`, `--cert` and `--key` with the identity's files.
    pub fn identity(self, id: &Identity) -> Self {
        self.arg("--ca")
            .arg(&id.ca)
            .arg("--cert")
            .arg(&id.cert)
            .arg("--key")
            .arg(&id.key)
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn output(mut self) -> Output {
        self.cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.cmd.spawn().expect("spawn");
        let mut stdin = child.stdin.take().unwrap();
        let bytes = self.stdin.take().unwrap_or_default();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&bytes);
        });
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        out
    }

    /// Runs and asserts exit 0, showing stderr when it is not.
    pub fn succeeds(self) -> Output {
        let desc = format!("{:?}", self.cmd);
        let out = self.output();
        assert!(
            out.status.success(),
            "{desc} failed with {:?}:\n{}{}",
            out.status,
            out.stdout_text(),
            out.stderr_text()
        );
        out
    }

    /// Runs and asserts a non-zero exit, and for nomadctx itself a message on stderr: its
    /// own `nomadctx: ...`, or clap's `error: ...` with exit code 2 for a usage error.
    pub fn fails(self) -> Output {
        let desc = format!("{:?}", self.cmd);
        let ours = self.cmd.get_program() == std::ffi::OsStr::new(bin());
        let out = self.output();
        assert!(
            !out.status.success(),
            "{desc} should have failed:\n{}",
            out.stdout_text()
        );
        let stderr = out.stderr_text();
        let usage = out.status.code() == Some(2) && stderr.starts_with("error: ");
        assert!(
            !ours || usage || stderr.contains("nomadctx: "),
            "{desc} failed without a `nomadctx:` message:\n{stderr}"
        );
        out
    }
}

pub trait OutputExt {
    fn stdout_text(&self) -> String;
    fn stderr_text(&self) -> String;
    fn stdout_has(&self, needle: &str) -> &Self;
    fn stderr_has(&self, needle: &str) -> &Self;
    fn code(&self) -> i32;
}

impl OutputExt for Output {
    fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
    fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout_text().contains(needle),
            "stdout lacks {needle:?}:\n{}",
            self.stdout_text()
        );
        self
    }
    fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr_text().contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr_text()
        );
        self
    }
    fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }
}

/// `nomadctx add NAME` with the identity's CA, certificate and key, not yet run.
pub fn add_cmd(world: &World, name: &str, id: &Identity) -> Run {
    add_args(world.cmd(), name, id)
}

/// `run` (nomadctx, wherever it runs) with the arguments of [`add_cmd`].
pub fn add_args(run: Run, name: &str, id: &Identity) -> Run {
    run.args(["add", name, "--address", "https://127.0.0.1:4646"])
        .identity(id)
}

/// Adds context `name` with the identity's CA, certificate and key, and `extra` options.
pub fn add_with(world: &World, name: &str, id: &Identity, extra: &[&str]) -> Output {
    add_cmd(world, name, id).args(extra).succeeds()
}

/// `show NAME --json`, parsed.
pub fn show_json(world: &World, name: &str) -> serde_json::Value {
    let out = world.cmd().args(["show", name, "--json"]).succeeds();
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `run` (nomadctx, wherever it runs) as `exec NAME` with a command that prints the key file
/// it was handed; not yet run.
pub fn exec_cat_key(run: Run, name: &str) -> Run {
    run.args(["exec", name, "--", "sh", "-c", "cat \"$NOMAD_CLIENT_KEY\""])
}

/// What the command of `exec NAME` (run by `run`, nomadctx wherever it runs) finds in the
/// environment variable `var`.
pub fn exec_sees(run: Run, name: &str, var: &str) -> String {
    run.args(["exec", name, "--", "sh", "-c", &format!("echo \"${var}\"")])
        .succeeds()
        .stdout_text()
        .trim()
        .to_owned()
}

/// Runs `run` with `stdin`, stdout discarded and stderr piped, without waiting.
pub fn spawn(mut run: Run, stdin: &str) -> Child {
    let mut child = run
        .cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child
}

/// Runs nomadctx (a debug build) until it says it paused at the checkpoint `step`
/// (`NOMADCTX_PAUSE_AT`), then SIGKILLs it: a crash at exactly that step.
pub fn kill_at_step(run: Run, stdin: &str, step: &str) {
    let mut child = spawn(run.env("NOMADCTX_PAUSE_AT", step), stdin);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains(&format!("paused at {step}")) {
        let mut line = String::new();
        let n = stderr.read_line(&mut line).unwrap();
        assert!(n > 0, "exited before pausing at {step}: {seen}");
        seen.push_str(&line);
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
}

/// `doctor` finds config, certificate files and keychain in agreement.
pub fn doctor_is_happy(world: &World) {
    doctor_agrees(world.cmd());
}

/// `run` (nomadctx, wherever it runs) as `doctor` finds everything in agreement.
pub fn doctor_agrees(run: Run) {
    run.arg("doctor").succeeds().stderr_has("all consistent");
}

/// A named pipe at `path` (whatever was there goes), where a file is expected.
pub fn mkfifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    nix::unistd::mkfifo(
        path,
        nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR,
    )
    .unwrap();
}

/// Runs `run` to its end, which must come within 20 s: a nomadctx blocked on a named pipe
/// is killed and the test fails, instead of hanging with it.
pub fn ends_in_time(run: Run) -> std::process::Output {
    let mut cmd = run.cmd;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} still ran after 20 s: it is blocked on a named pipe");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}
