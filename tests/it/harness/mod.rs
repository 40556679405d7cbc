//! Test harness: a private D-Bus session with gnome-keyring-daemon and a temporary HOME per
//! test, certificates made with openssl at test time, and a builder that runs the built
//! binary with a clean environment.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The nomadctx under test: this build's, or the one NOMADCTX_TEST_BINARY names (`.ci/run`
/// runs the keychain, exec and shell tests again against the static musl binary).
pub fn bin() -> &'static str {
    static BIN: OnceLock<String> = OnceLock::new();
    BIN.get_or_init(|| match std::env::var("NOMADCTX_TEST_BINARY") {
        Ok(path) if !path.is_empty() => path,
        _ => env!("CARGO_BIN_EXE_nomadctx").to_owned(),
    })
}

/// Every tool the suite drives, with its Debian package: tests/required-tools.txt, which
/// tests/run.sh installs from.
const REQUIRED_TOOLS: &str = include_str!("../../required-tools.txt");

/// Panics, naming every missing tool and its package at once, when any tool the suite needs
/// is not installed; then returns the path of `tool`.
pub fn require_tool(tool: &str) -> PathBuf {
    static MISSING: OnceLock<Vec<String>> = OnceLock::new();
    let missing = MISSING.get_or_init(|| {
        REQUIRED_TOOLS
            .lines()
            .map(|line| line.split('#').next().unwrap_or_default())
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                Some((fields.next()?, fields.next()?))
            })
            .filter(|(tool, _)| which::which(tool).is_err())
            .map(|(tool, package)| format!("{tool} (package {package})"))
            .collect()
    });
    assert!(
        missing.is_empty(),
        "the tests need tools that are not installed: {}; `bash tests/run.sh` installs them",
        missing.join(", ")
    );
    which::which(tool)
        .unwrap_or_else(|_| panic!("{tool} is not listed in tests/required-tools.txt"))
}

/// One test's world: HOME, config dir, runtime dir and a Secret Service of its own, all
/// inside one temporary directory that goes, with the daemons, when the world is dropped.
pub struct World {
    pub tmp: tempfile::TempDir,
    pub home: PathBuf,
    pub config_dir: PathBuf,
    pub runtime_dir: PathBuf,
    bus: Option<Child>,
    keyring: Option<Child>,
    pub bus_address: String,
}

impl World {
    /// A world with a running, unlocked Secret Service.
    pub fn new() -> Self {
        let mut world = Self::without_keychain();
        world.start_secret_service(false);
        world
    }

    /// A world whose Secret Service any process of the user may trace (`strace -p`), also
    /// where Yama restricts ptrace to descendants: for tests that slow the daemon down.
    pub fn traceable() -> Self {
        let mut world = Self::without_keychain();
        world.start_secret_service(true);
        world
    }

    /// The process id of the Secret Service daemon.
    pub fn keyring_pid(&self) -> u32 {
        self.keyring.as_ref().expect("a Secret Service").id()
    }

    /// A world whose session bus has no Secret Service on it.
    pub fn without_keychain() -> Self {
        let mut world = Self::headless();
        require_tool("dbus-daemon");
        let bus_config = world.tmp.path().join("bus.conf");
        std::fs::write(&bus_config, bus_config_text(world.tmp.path())).unwrap();
        let mut bus = Command::new("dbus-daemon")
            .args(["--nofork", "--print-address=1"])
            .arg(format!("--config-file={}", bus_config.display()))
            .env("HOME", &world.home)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-daemon");
        let mut line = String::new();
        BufReader::new(bus.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        world.bus_address = line.trim().to_owned();
        world.bus = Some(bus);
        assert!(
            !world.bus_address.is_empty(),
            "dbus-daemon printed no address"
        );
        world
    }

    /// A world with no D-Bus at all, as on a server reached over ssh: no session bus, and
    /// no DBUS_SESSION_BUS_ADDRESS.
    pub fn headless() -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("nomadctx-test")
            .tempdir()
            .unwrap();
        let home = tmp.path().join("home");
        // A config dir with a space and quotes checks that paths are quoted too.
        let config_dir = home.join("cfg dir 'q' $x");
        let runtime_dir = tmp.path().join("run");
        for dir in [&home, &runtime_dir] {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        Self {
            tmp,
            home,
            config_dir,
            runtime_dir,
            bus: None,
            keyring: None,
            bus_address: String::new(),
        }
    }

    fn start_secret_service(&mut self, traceable: bool) {
        require_tool("gnome-keyring-daemon");
        // PR_SET_PTRACER_ANY, which outlives the exec (harmless where Yama is absent).
        const ALLOW_TRACING: &str = "import ctypes, os, sys; ctypes.CDLL(None).prctl(0x59616d61, ctypes.c_ulong(2**64 - 1), 0, 0, 0); os.execvp(sys.argv[1], sys.argv[1:])";
        let mut command = if traceable {
            require_tool("python3");
            let mut wrapper = Command::new("python3");
            wrapper.args(["-c", ALLOW_TRACING, "gnome-keyring-daemon"]);
            wrapper
        } else {
            Command::new("gnome-keyring-daemon")
        };
        // In the foreground, as a child of the test, so that dropping the world stops it.
        let mut daemon = command
            .args(["--unlock", "--components=secrets", "--foreground"])
            .env_clear()
            .env("HOME", &self.home)
            .env("PATH", std::env::var_os("PATH").unwrap())
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus_address)
            .env("XDG_RUNTIME_DIR", &self.runtime_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start gnome-keyring-daemon");
        // The login keyring's password; gnome-keyring only creates it for a non-empty one.
        // Closing stdin tells it the password is complete.
        daemon
            .stdin
            .take()
            .unwrap()
            .write_all(b"test-password")
            .unwrap();
        self.keyring = Some(daemon);
        self.wait_for_secret_service();
    }

    /// Waits until the Secret Service stores, returns and deletes an item in its default
    /// collection, as nomadctx will: the login keyring's file appears before the collection
    /// is unlocked and made the default, and a client in that window gets "prompt
    /// dismissed". (The bus starts nothing on demand, so an early probe is harmless.)
    fn wait_for_secret_service(&mut self) {
        require_tool("secret-tool");
        let probe = ["nomadctx-test", "readiness-probe"];
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.keyring.as_mut().unwrap().try_wait().unwrap() {
                panic!("gnome-keyring-daemon exited early with {status}");
            }
            let stored = self
                .program("secret-tool")
                .args(["store", "--label=nomadctx test probe"])
                .args(probe)
                .stdin("ready")
                .output();
            let read = self
                .program("secret-tool")
                .arg("lookup")
                .args(probe)
                .output();
            if stored.status.success() && read.stdout == b"ready" {
                self.program("secret-tool")
                    .arg("clear")
                    .args(probe)
                    .succeeds();
                let gone = self
                    .program("secret-tool")
                    .arg("lookup")
                    .args(probe)
                    .output();
                assert!(
                    gone.stdout.is_empty(),
                    "the readiness probe was not deleted"
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the Secret Service did not answer within 60 s: {}{}",
                stored.stderr_text(),
                read.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `program` with the world's environment in a user namespace of its own, under a new
    /// kernel session keyring: its kernel keyrings (session, user and persistent) are the
    /// namespace's, never those of the user running the tests.
    pub fn in_private_keyrings(&self, program: &str) -> Run {
        require_tool("unshare");
        require_tool("keyctl");
        self.program("unshare")
            .args(["--user", "--map-current-user", "keyctl", "session", "-"])
            .arg(program)
    }

    /// nomadctx with the world's environment and nothing else: no NOMAD_* or NOMADCTX_*.
    pub fn cmd(&self) -> Run {
        let mut cmd = Command::new(bin());
        self.isolate(&mut cmd);
        Run { cmd, stdin: None }
    }

    /// Any program with the world's environment.
    pub fn program(&self, program: impl AsRef<std::ffi::OsStr>) -> Run {
        let mut cmd = Command::new(program);
        self.isolate(&mut cmd);
        Run { cmd, stdin: None }
    }

    fn isolate(&self, cmd: &mut Command) {
        let bin_dir = Path::new(bin()).parent().unwrap();
        let path = std::env::join_paths(
            std::iter::once(bin_dir.to_path_buf())
                .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
        )
        .unwrap();
        cmd.env_clear()
            .env("PATH", path)
            .env("HOME", &self.home)
            .env("SHELL", "/bin/bash")
            .env("LANG", "C.UTF-8")
            .env("XDG_RUNTIME_DIR", &self.runtime_dir)
            .env("NOMADCTX_CONFIG_DIR", &self.config_dir)
            .env("NOMADCTX_KEYCHAIN_TIMEOUT", "10")
            // The file store's scrypt at 2^10 rather than a second's worth (debug builds
            // only); the recovery test with the age tool uses the real work factor.
            .env("NOMADCTX_SCRYPT_LOG_N", "10")
            .current_dir(&self.home);
        if !self.bus_address.is_empty() {
            cmd.env("DBUS_SESSION_BUS_ADDRESS", &self.bus_address);
        }
    }

    /// The config as nomadctx reads it.
    pub fn config(&self) -> nomadctx::store::Config {
        nomadctx::store::Store::at(self.config_dir.clone())
            .load()
            .expect("config.toml")
    }

    /// The keychain account (`STORE/ID/KIND/VERSION`) that config.toml points at for
    /// `name_kind`, written as `NAME/client-key` or `NAME/token`.
    pub fn live_account(&self, name_kind: &str) -> Option<String> {
        let (name, kind) = name_kind.rsplit_once('/').expect("NAME/KIND");
        let config = self.config();
        let ctx = config.contexts.get(name)?;
        let version = match kind {
            "client-key" => ctx.client_version.as_ref(),
            "token" => ctx.token_version.as_ref(),
            other => panic!("unknown item kind {other}"),
        }?;
        Some(format!(
            "{}/{}/{kind}/{version}",
            config.store.as_deref()?,
            ctx.id()
        ))
    }

    /// The secret config.toml points at for `NAME/KIND`, read by secret-tool, an
    /// independent client.
    pub fn secret(&self, name_kind: &str) -> Option<Vec<u8>> {
        let account = self.live_account(name_kind)?;
        self.secret_at(&account)
    }

    /// The secret stored under a raw account.
    pub fn secret_at(&self, account: &str) -> Option<Vec<u8>> {
        require_tool("secret-tool");
        let out = self
            .program("secret-tool")
            .args(["lookup", "service", "nomadctx", "username", account])
            .output();
        out.status
            .success()
            .then_some(out.stdout)
            .filter(|s| !s.is_empty())
    }

    /// Raw accounts of every nomadctx item in the Secret Service, of any store.
    pub fn raw_keychain_accounts(&self) -> Vec<String> {
        // A world without a bus (World::headless) has no Secret Service to hold any.
        if self.bus_address.is_empty() {
            return Vec::new();
        }
        require_tool("secret-tool");
        let out = self
            .program("secret-tool")
            .args(["search", "--all", "service", "nomadctx"])
            .output();
        // secret-tool exits 1 when nothing matches, and says so on stderr only otherwise.
        assert!(
            out.status.success() || out.stderr.is_empty(),
            "secret-tool search failed: {}",
            out.stderr_text()
        );
        let text = format!("{}{}", out.stdout_text(), out.stderr_text());
        let mut accounts: Vec<String> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("attribute.username = "))
            .map(str::to_owned)
            .collect();
        accounts.sort();
        accounts
    }

    /// Every nomadctx item in the Secret Service, as `NAME/KIND` for the items config.toml
    /// points at and `orphan:ACCOUNT` for the rest.
    pub fn keychain_accounts(&self) -> Vec<String> {
        let raw = self.raw_keychain_accounts();
        let config = nomadctx::store::Store::at(self.config_dir.clone())
            .load()
            .unwrap_or_default();
        let live: BTreeMap<String, String> = config
            .contexts
            .keys()
            .flat_map(|name| ["client-key", "token"].map(|kind| format!("{name}/{kind}")))
            .filter_map(|nk| self.live_account(&nk).map(|a| (a, nk)))
            .collect();
        let mut accounts: Vec<String> = raw
            .into_iter()
            .map(|a| live.get(&a).cloned().unwrap_or(format!("orphan:{a}")))
            .collect();
        accounts.sort();
        accounts
    }

    /// The copy of context `name`'s `ca` or `client` certificate that config.toml points at.
    pub fn cert_file(&self, name: &str, which: &str) -> PathBuf {
        let config = self.config();
        let ctx = config.contexts.get(name).expect("context");
        let version = match which {
            "ca" => ctx.ca_version.as_ref(),
            "client" => ctx.client_version.as_ref(),
            other => panic!("unknown certificate {other}"),
        }
        .expect("a certificate");
        self.config_dir
            .join("certs")
            .join(ctx.id())
            .join(format!("{which}-{version}.pem"))
    }

    /// What `use` and `exec` export for context `name`'s `ca` or `client` certificate: the
    /// link `certs/ID/ca.pem` (or `client.pem`), which follows `set`.
    pub fn cert_link(&self, name: &str, which: &str) -> PathBuf {
        let file = self.cert_file(name, which);
        let link = file.with_file_name(format!("{which}.pem"));
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            Path::new(file.file_name().unwrap()),
            "{} names the live version",
            link.display()
        );
        link
    }

    /// Every file under the config dir with its bytes, plus the keychain's accounts: compared
    /// before and after a command that must change nothing.
    pub fn snapshot(&self) -> (BTreeMap<PathBuf, Vec<u8>>, Vec<String>) {
        let mut files = BTreeMap::new();
        collect_files(&self.config_dir, &mut files);
        files.retain(|p, _| p.file_name().is_some_and(|n| n != ".lock"));
        (files, self.keychain_accounts())
    }

    /// Every file under HOME, the runtime dir and /tmp (skipping other tests' worlds) whose
    /// bytes contain `needle`.
    pub fn files_containing(&self, needle: &[u8]) -> Vec<PathBuf> {
        let mut files = BTreeMap::new();
        collect_files(&self.home, &mut files);
        collect_files(&self.runtime_dir, &mut files);
        collect_files(&self.config_dir, &mut files);
        files
            .into_iter()
            .filter(|(_, bytes)| bytes.windows(needle.len()).any(|w| w == needle))
            .map(|(p, _)| p)
            .collect()
    }
}

/// A session bus whose socket is in `dir` (so that it goes with the world) and which starts
/// no service on demand: with the system's session.conf, a client that asks for the Secret
/// Service before our gnome-keyring-daemon owns the name makes the bus start a second one
/// without the password, whose login collection stays locked ("prompt dismissed").
fn bus_config_text(dir: &Path) -> String {
    format!(
        r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
        dir.display()
    )
}

impl Drop for World {
    fn drop(&mut self) {
        for child in self.keyring.iter_mut().chain(self.bus.as_mut()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn collect_files(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            collect_files(&path, out);
        } else if kind.is_file() {
            out.insert(path.clone(), std::fs::read(&path).unwrap_or_default());
        }
    }
}

/// A command being built; run it with one of the terminal methods.
pub struct Run {
    pub cmd: Command,
    stdin: Option<Vec<u8>>,
}

impl Run {
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

const CLIENT_EXT: &str = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n";

/// Certificates and keys made with openssl at test time.
pub struct Pki {
    pub dir: PathBuf,
}

/// One client identity: certificate, key, and the CA that signed it.
#[derive(Clone)]
pub struct Identity {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Identity {
    pub fn key_pem(&self) -> Vec<u8> {
        std::fs::read(&self.key).unwrap()
    }
}

/// How long one set of test certificates is used: well inside the shortest validity
/// (the 10-day "soon" certificate), and short enough that "expired" stays expired.
const PKI_PERIOD: u64 = 6 * 3600;

/// The test certificates, made once per period and shared by every test process of the
/// build. They live in the build's own temporary directory (target/tmp), never in /tmp, and
/// the first process of a new period removes the sets of older ones.
pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        require_tool("openssl");
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let period = now / PKI_PERIOD;
        let dir = root.join(format!("pki-{period}"));
        if !dir.join("ready").exists() {
            // Built aside and renamed into place, so that a process never sees half a set;
            // when two build at once, the first rename wins and the other drops its copy.
            let building = root.join(format!("pki-{period}.{}.tmp", std::process::id()));
            let _ = std::fs::remove_dir_all(&building);
            std::fs::create_dir_all(&building).unwrap();
            std::fs::set_permissions(&building, std::fs::Permissions::from_mode(0o700)).unwrap();
            Pki {
                dir: building.clone(),
            }
            .make_all();
            std::fs::write(building.join("ready"), "").unwrap();
            if std::fs::rename(&building, &dir).is_err() {
                std::fs::remove_dir_all(&building).unwrap();
            }
        }
        remove_old_pki(root, period);
        Pki { dir }
    })
}

/// Removes certificate sets from before the previous period (a process that started then
/// may still be using that one) and half-built sets of processes that died.
fn remove_old_pki(root: &Path, period: u64) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("pki-") else {
            continue;
        };
        let old = match rest.split_once('.') {
            Some((built, _)) => built.parse::<u64>().is_ok_and(|p| p + 1 < period),
            None => rest.parse::<u64>().is_ok_and(|p| p + 1 < period),
        };
        if old {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Pki {
    fn make_all(&self) {
        self.make_ca("ca", "ec");
        self.make_ca("other-ca", "ec");
        self.make_client("ec", "ca", "ec");
        self.make_client("ec2", "ca", "ec");
        self.make_client("rsa", "ca", "rsa:4096");
        self.make_server("server", "ca");
        self.make_server("other-server", "other-ca");
        self.make_leaf("soon", "ca", "ec", "/CN=cli.soon", CLIENT_EXT, 10);
        self.make_leaf(
            "foreign",
            "other-ca",
            "ec",
            "/CN=cli.foreign",
            CLIENT_EXT,
            365,
        );
        let server_only = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n";
        self.make_leaf(
            "server-only",
            "ca",
            "ec",
            "/CN=cli.server-only",
            server_only,
            365,
        );
        self.make_expired("expired", "ca");
        let intermediate =
            "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n";
        self.make_leaf(
            "intermediate",
            "ca",
            "ec",
            "/CN=intermediate",
            intermediate,
            365,
        );
        self.make_leaf(
            "chained",
            "intermediate",
            "ec",
            "/CN=cli.chained",
            CLIENT_EXT,
            365,
        );
        let bundle = [
            std::fs::read(self.path("chained.pem")).unwrap(),
            std::fs::read(self.path("intermediate.pem")).unwrap(),
        ]
        .concat();
        std::fs::write(self.path("chained-bundle.pem"), bundle).unwrap();
    }

    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn new_key(&self, name: &str, kind: &str) {
        let path = format!("{name}-key.pem");
        match kind {
            "ec" => self.openssl(&[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                &path,
            ]),
            "rsa:4096" => self.openssl(&[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:4096",
                "-out",
                &path,
            ]),
            other => panic!("unknown key kind {other}"),
        }
    }

    fn make_ca(&self, name: &str, kind: &str) {
        self.new_key(name, kind);
        self.openssl(&[
            "req",
            "-x509",
            "-new",
            "-key",
            &format!("{name}-key.pem"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "30",
            "-subj",
            &format!("/CN={name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
    }

    /// A CLI certificate as the guide's cfssl `-profile=client` makes it: clientAuth only.
    fn make_client(&self, name: &str, ca: &str, kind: &str) {
        self.make_leaf(name, ca, kind, &format!("/CN=cli.{name}"), CLIENT_EXT, 365);
    }

    /// A CLI certificate whose validity ended yesterday (`openssl ca` can set the dates).
    fn make_expired(&self, name: &str, ca: &str) {
        self.new_key(name, "ec");
        std::fs::write(self.dir.join("index.txt"), "").unwrap();
        std::fs::write(self.dir.join("index.txt.attr"), "unique_subject = no\n").unwrap();
        std::fs::write(self.dir.join("serial"), "1000\n").unwrap();
        std::fs::write(
            self.dir.join("ca.cnf"),
            "[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n",
        )
        .unwrap();
        std::fs::write(self.dir.join(format!("{name}.ext")), CLIENT_EXT).unwrap();
        let fmt = |t: std::time::SystemTime| {
            let out = Command::new("date")
                .args([
                    "-u",
                    "-d",
                    &format!(
                        "@{}",
                        t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
                    ),
                    "+%Y%m%d%H%M%SZ",
                ])
                .output()
                .unwrap();
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        };
        let now = std::time::SystemTime::now();
        let start = fmt(now - Duration::from_secs(30 * 86_400));
        let end = fmt(now - Duration::from_secs(86_400));
        let (key, csr, cert) = (
            format!("{name}-key.pem"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        self.openssl(&[
            "req",
            "-new",
            "-key",
            &key,
            "-out",
            &csr,
            "-subj",
            &format!("/CN=cli.{name}"),
        ]);
        self.openssl(&[
            "ca",
            "-batch",
            "-notext",
            "-config",
            "ca.cnf",
            "-cert",
            &format!("{ca}.pem"),
            "-keyfile",
            &format!("{ca}-key.pem"),
            "-in",
            &csr,
            "-out",
            &cert,
            "-startdate",
            &start,
            "-enddate",
            &end,
            "-extfile",
            &format!("{name}.ext"),
        ]);
    }

    /// A Nomad-style server certificate: server.global.nomad, localhost and 127.0.0.1.
    fn make_server(&self, name: &str, ca: &str) {
        let ext = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:server.global.nomad,DNS:localhost,IP:127.0.0.1\n";
        self.make_leaf(name, ca, "ec", "/CN=server.global.nomad", ext, 365);
    }

    fn make_leaf(
        &self,
        name: &str,
        ca: &str,
        kind: &str,
        subject: &str,
        extensions: &str,
        days: u32,
    ) {
        self.new_key(name, kind);
        let ext_file = format!("{name}.ext");
        std::fs::write(self.dir.join(&ext_file), extensions).unwrap();
        let (key, csr, cert) = (
            format!("{name}-key.pem"),
            format!("{name}.csr"),
            format!("{name}.pem"),
        );
        self.openssl(&["req", "-new", "-key", &key, "-out", &csr, "-subj", subject]);
        let (ca_cert, ca_key) = (format!("{ca}.pem"), format!("{ca}-key.pem"));
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_cert,
            "-CAkey",
            &ca_key,
            "-out",
            &cert,
            "-days",
            &days.to_string(),
            "-extfile",
            &ext_file,
        ]);
    }

    pub fn identity(&self, name: &str) -> Identity {
        Identity {
            ca: self.dir.join("ca.pem"),
            cert: self.dir.join(format!("{name}.pem")),
            key: self.dir.join(format!("{name}-key.pem")),
        }
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }
}

/// `nomadctx add NAME` with the identity's CA, certificate and key, not yet run.
pub fn add_cmd(world: &World, name: &str, id: &Identity) -> Run {
    add_args(world.cmd(), name, id)
}

/// `run` (nomadctx, wherever it runs) with the arguments of [`add_cmd`].
pub fn add_args(run: Run, name: &str, id: &Identity) -> Run {
    run.args(["add", name, "--address", "https://127.0.0.1:4646", "--ca"])
        .arg(&id.ca)
        .arg("--cert")
        .arg(&id.cert)
        .arg("--key")
        .arg(&id.key)
}

/// Adds context `name` with the identity's CA, certificate and key, and `extra` options.
pub fn add_with(world: &World, name: &str, id: &Identity, extra: &[&str]) -> Output {
    add_cmd(world, name, id).args(extra).succeeds()
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

/// The DER of a PEM private key file: what nomadctx stores in the keychain.
pub fn key_der(path: &Path) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::PrivateKeyDer::from_pem_file(path)
        .unwrap()
        .secret_der()
        .to_vec()
}

/// Stores, as another program would, an item with nomadctx's service and `account` in the
/// Secret Service's session collection, with an attribute of its own.
pub fn store_foreign_item(world: &World, account: &str, secret: &str) {
    world
        .program("secret-tool")
        .args([
            "store",
            "--label=other tool",
            "--collection=/org/freedesktop/secrets/collection/session",
            "service",
            "nomadctx",
            "username",
            account,
            "application",
            "other-tool",
        ])
        .stdin(secret)
        .succeeds();
}

/// PEM text with whitespace removed, to compare keys across line-wrapping differences.
pub fn squash(pem: &[u8]) -> Vec<u8> {
    pem.iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect()
}

/// tests/support/mtls_server.py: a Nomad-shaped HTTPS server on 127.0.0.1 that requires a
/// client certificate from `client_ca` (a pki file), presenting `cert` (a pki identity);
/// `plain` makes it speak plain HTTP instead.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    pub fn start(client_ca: &str, cert: &str, plain: bool) -> Self {
        let pki = pki();
        Self::start_with(
            &pki.path(client_ca),
            &pki.path(&format!("{cert}.pem")),
            &pki.path(&format!("{cert}-key.pem")),
            plain,
        )
    }

    /// The same server with certificate files from anywhere.
    pub fn start_with(client_ca: &Path, cert: &Path, key: &Path, plain: bool) -> Self {
        require_tool("python3");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/mtls_server.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script).arg(client_ca).arg(cert).arg(key);
        if plain {
            cmd.arg("plain");
        }
        let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Self {
            child,
            port: line.trim().parse().expect("server port"),
        }
    }

    pub fn url(&self, host: &str) -> String {
        format!("https://{host}:{}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Nomad-shaped HTTPS server built on rustls, in a thread of the test: it demands a client
/// certificate issued by `client_ca` and answers /v1/agent/self and /v1/status/leader.
/// It serves at most 32 connections, so a failed test cannot leave it spinning.
pub fn rustls_server(client_ca: &Path, cert: &Path, key: &Path) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use std::io::Read;
    use std::sync::Arc;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(
        CertificateDer::pem_file_iter(client_ca)
            .unwrap()
            .map(Result::unwrap),
    );
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let certs: Vec<_> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, PrivateKeyDer::from_pem_file(key).unwrap())
        .unwrap();
    let config = Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for tcp in listener.incoming().take(32).flatten() {
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut stream = rustls::StreamOwned::new(conn, tcp);
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&request);
            let body = if text.starts_with("GET /v1/status/leader") {
                "\"10.1.1.1:4647\"".to_owned()
            } else {
                r#"{"config":{"Version":{"Version":"1.10.0"},"Region":"rustls"}}"#.to_owned()
            };
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            if stream.write_all(response.as_bytes()).is_ok() {
                stream.conn.send_close_notify();
                let _ = stream.flush();
            }
        }
    });
    port
}

/// A step for [`World::terminal`]: type text, or wait for a regex on the screen.
pub enum Step<'a> {
    Send(&'a str),
    Expect(&'a str),
}

impl World {
    /// Runs `program` in a real pseudo-terminal (tests/support/terminal.py), typing and
    /// waiting as the steps say; fails the test, with the screen, when a wait times out.
    pub fn terminal(&self, steps: &[Step], program: &[&str], env: &[(&str, &str)]) -> String {
        let steps: Vec<[&str; 2]> = steps
            .iter()
            .map(|s| match s {
                Step::Send(text) => ["send", text],
                Step::Expect(regex) => ["expect", regex],
            })
            .collect();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/terminal.py");
        let mut run = self
            .program("python3")
            .arg(script)
            .arg(serde_json::to_string(&steps).unwrap())
            .arg("--")
            .args(program)
            .env("TERM", "xterm");
        for (key, value) in env {
            run = run.env(key, value);
        }
        let out = run.output();
        assert!(
            out.status.success(),
            "{program:?} in a terminal:\n{}",
            out.stderr_text()
        );
        out.stdout_text()
    }
}

/// xorshift64*: reproducible random draws without a dependency, for property tests.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (0 for an empty range).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A user namespace of the test's own, kept alive while this lives: its kernel keyrings (the
/// user keyring the file store's unlock cache is in, and the persistent keyring) last across
/// the commands run in it with [`KernelSession::run`], and go when it is dropped, as at a
/// reboot. Never the keyrings of the user running the tests.
pub struct KernelSession {
    holder: Child,
}

impl KernelSession {
    pub fn new() -> Self {
        require_tool("unshare");
        require_tool("nsenter");
        let mut holder = Command::new("unshare")
            .args([
                "--user",
                "--map-current-user",
                "sh",
                "-c",
                "echo ready; exec cat",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start unshare");
        // Only once it says so is the holder in its namespace: before, nsenter would enter
        // the test's own.
        let mut line = String::new();
        BufReader::new(holder.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "ready\n", "unshare --user did not start");
        Self { holder }
    }

    /// `program` with the world's environment, inside this session's namespace.
    pub fn run(&self, world: &World, program: &str) -> Run {
        world
            .program("nsenter")
            .args(["--user", "--preserve-credentials", "-t"])
            .arg(self.holder.id().to_string())
            .arg(program)
    }

    /// The process that holds the namespace, for `nsenter -t`.
    pub fn holder_pid(&self) -> u32 {
        self.holder.id()
    }

    /// nomadctx, inside this session's namespace.
    pub fn cmd(&self, world: &World) -> Run {
        self.run(world, bin())
    }
}

impl Drop for KernelSession {
    fn drop(&mut self) {
        drop(self.holder.stdin.take());
        let _ = self.holder.wait();
    }
}

/// Everything that crosses the world's bus while it runs, as raw messages (pcap).
pub struct Monitor {
    child: Child,
    capture: PathBuf,
    bus_address: String,
}

impl Monitor {
    pub fn start(world: &World, name: &str) -> Self {
        let capture = world.tmp.path().join(format!("{name}.pcap"));
        let child = world
            .program(require_tool("dbus-monitor"))
            .args(["--session", "--pcap"])
            .cmd
            .stdout(std::fs::File::create(&capture).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let monitor = Self {
            child,
            capture,
            bus_address: world.bus_address.clone(),
        };
        // Listening once it has seen a message sent after it started.
        monitor.mark(&format!("nomadctx-test-start-{name}"));
        monitor
    }

    /// Sends a message naming `marker` until the capture has it: everything sent before it
    /// is in the capture too.
    fn mark(&self, marker: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !contains(&self.bytes(), marker.as_bytes()) {
            assert!(Instant::now() < deadline, "dbus-monitor never saw {marker}");
            let _ = Command::new(require_tool("dbus-send"))
                .env("DBUS_SESSION_BUS_ADDRESS", &self.bus_address)
                .args([
                    "--session",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                ])
                .arg(format!("string:{marker}"))
                .output();
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        std::fs::File::open(&self.capture)
            .unwrap()
            .read_to_end(&mut bytes)
            .unwrap();
        bytes
    }

    /// What it saw, once every message of the commands run so far is written.
    pub fn stop(mut self) -> Vec<u8> {
        self.mark("nomadctx-test-stop");
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.bytes()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

pub fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}
