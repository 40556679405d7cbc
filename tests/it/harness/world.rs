//! A test's world: HOME, config and runtime dirs, a private bus with its Secret Service,
//! and the kernel keyrings of a user namespace held open across commands.

use super::*;

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
        world.bus_address = first_line(bus.stdout.take().unwrap()).trim().to_owned();
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
        Run::new(cmd)
    }

    /// Any program with the world's environment.
    pub fn program(&self, program: impl AsRef<std::ffi::OsStr>) -> Run {
        let mut cmd = Command::new(program);
        self.isolate(&mut cmd);
        Run::new(cmd)
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
    pub fn config(&self) -> nomadctx::testing::Config {
        nomadctx::testing::Store::at(self.config_dir.clone())
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
        let config = nomadctx::testing::Store::at(self.config_dir.clone())
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

    /// Every file under HOME (with the config and data dirs) and the runtime dir whose bytes
    /// contain `needle`. Only this world's own directories: other tests' worlds hold copies
    /// of the same shared test keys.
    pub fn files_containing(&self, needle: &[u8]) -> Vec<PathBuf> {
        files_holding(&[&self.home, &self.runtime_dir], &[needle], &[])
    }

    /// Every place a command run in this world can write a file: the world's own directory
    /// (HOME, under it the config dir and the data dir `~/.local/share/nomadctx`, the runtime
    /// dir), and the per-user directories src/runtime.rs falls back to for key files when
    /// XDG_RUNTIME_DIR is unusable, /dev/shm/nomadctx-UID and /tmp/nomadctx-UID (the world
    /// clears TMPDIR). The world sets XDG_RUNTIME_DIR, so only a regression writes to the
    /// fallbacks; they are shared by every test of the user, so look there only for key
    /// material the test made itself ([`Pki::fresh_client`]). Never all of /tmp or /dev/shm:
    /// other tests' worlds are there, and whatever else the machine keeps in /tmp.
    pub fn writable_places(&self) -> Vec<PathBuf> {
        let uid = nix::unistd::getuid();
        vec![
            self.tmp.path().to_path_buf(),
            PathBuf::from(format!("/dev/shm/nomadctx-{uid}")),
            PathBuf::from(format!("/tmp/nomadctx-{uid}")),
        ]
    }

    /// Every file in [`World::writable_places`] that holds one of `needles`, other than
    /// those under `skip` (the test's own copies of its key material).
    pub fn files_with_fresh_secrets(&self, needles: &[&[u8]], skip: &[PathBuf]) -> Vec<PathBuf> {
        let places = self.writable_places();
        let roots: Vec<&Path> = places.iter().map(PathBuf::as_path).collect();
        files_holding(&roots, needles, skip)
    }
}

/// Every regular file under `roots` (symbolic links not followed) that holds one of
/// `needles`, other than those under `skip`; sorted.
fn files_holding(roots: &[&Path], needles: &[&[u8]], skip: &[PathBuf]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack: Vec<PathBuf> = roots.iter().map(|r| r.to_path_buf()).collect();
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if skip.iter().any(|s| path.starts_with(s)) {
                continue;
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file()
                // A file may go between the listing and the read (another test's, in a
                // shared fallback directory): it held nothing then.
                && let Ok(bytes) = std::fs::read(&path)
                && needles
                    .iter()
                    .any(|needle| bytes.windows(needle.len()).any(|w| w == *needle))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    found.dedup();
    found
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
        let line = first_line(holder.stdout.take().unwrap());
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
