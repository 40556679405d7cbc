//! The Windows build under Wine: cross-built for x86_64-pc-windows-gnu, it adds a context
//! with its key in Credential Manager (Wine's advapi32), lists and shows it, prints
//! PowerShell for `use`, runs a command with `exec` and checks a real mTLS server.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{OutputExt, Run, Server, World, pki, require_tool};

const TARGET: &str = "x86_64-pc-windows-gnu";

/// nomadctx.exe in a Wine prefix of the world's own; the prefix's wineserver (and every
/// Windows process it runs) is stopped when this is dropped.
struct Wine {
    prefix: PathBuf,
    exe: PathBuf,
    /// TMPDIR for Wine and MinGW, inside the world: wineserver's socket directory and the
    /// empty ccXXXXXX files MinGW's gcc leaves would otherwise stay in /tmp.
    tmp: PathBuf,
}

impl Wine {
    fn new(world: &World) -> Self {
        require_tool("wine");
        require_tool("wineserver");
        require_tool("x86_64-w64-mingw32-gcc");
        let dir = world.home.join("windows");
        let tmp = world.tmp.path().join("wine-tmp");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(&tmp).unwrap();
        let exe = dir.join("nomadctx.exe");
        std::fs::copy(windows_binary(&tmp), &exe).unwrap();
        // Rust's standard library imports ProcessPrng from bcryptprimitives.dll (Windows 10
        // and later), which Wine 8 lacks: a stand-in beside the exe forwards to RtlGenRandom.
        let shim =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/wine/bcryptprimitives.c");
        let built = Command::new("x86_64-w64-mingw32-gcc")
            .args(["-shared", "-O2", "-o"])
            .arg(dir.join("bcryptprimitives.dll"))
            .arg(shim)
            .arg("-ladvapi32")
            .env("TMPDIR", &tmp)
            .status()
            .unwrap();
        assert!(
            built.success(),
            "could not build the bcryptprimitives stand-in"
        );
        Self {
            prefix: world.home.join("wine"),
            exe,
            tmp,
        }
    }

    /// nomadctx.exe with the world's environment but Windows' own directories: no config or
    /// runtime directory named, so %APPDATA% and %TEMP% in the prefix are used.
    fn cmd(&self, world: &World) -> Run {
        self.env(world.program("wine").arg(&self.exe))
    }

    fn env(&self, run: Run) -> Run {
        run.env("WINEPREFIX", &self.prefix)
            .env("TMPDIR", &self.tmp)
            .env("WINEDEBUG", "-all")
            // No Mono or Gecko installer when the prefix is made.
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
            .env_remove("NOMADCTX_CONFIG_DIR")
            .env_remove("XDG_RUNTIME_DIR")
    }

    /// A Windows path (`C:\users\...`) as a path on this machine.
    fn unix_path(&self, windows: &str) -> PathBuf {
        let rest = windows
            .strip_prefix("C:\\")
            .or_else(|| windows.strip_prefix("c:\\"))
            .unwrap_or_else(|| panic!("not on drive C: {windows}"));
        self.prefix.join("drive_c").join(rest.replace('\\', "/"))
    }
}

impl Drop for Wine {
    fn drop(&mut self) {
        for how in ["-k", "-w"] {
            let _ = Command::new("wineserver")
                .arg(how)
                .env("WINEPREFIX", &self.prefix)
                .env("TMPDIR", &self.tmp)
                .status();
        }
    }
}

/// The cross-built nomadctx.exe: NOMADCTX_TEST_WINDOWS_BINARY, or built here (the target and
/// the MinGW compiler come from tests/run.sh).
fn windows_binary(tmp: &Path) -> PathBuf {
    if let Some(path) = std::env::var_os("NOMADCTX_TEST_WINDOWS_BINARY").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--locked", "--bin", "nomadctx", "--target", TARGET])
        .current_dir(manifest)
        .env("TMPDIR", tmp)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "could not cross-build nomadctx for {TARGET} (tests/run.sh installs the target and MinGW):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let target_dir =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| manifest.join("target"), PathBuf::from);
    target_dir.join(TARGET).join("debug/nomadctx.exe")
}

/// Windows paths for the Windows program: drive Z: is this machine's root.
fn windows_path(path: &Path) -> String {
    format!("Z:{}", path.display()).replace('/', "\\")
}

#[test]
fn the_windows_build_works_with_credential_manager_under_wine() {
    let world = World::new();
    let wine = Wine::new(&world);
    let server = Server::start("ca.pem", "server", false);
    let id = pki().identity("ec");

    wine.cmd(&world)
        .args(["add", "prod", "--address", &server.url("127.0.0.1")])
        .args(["--ca", &windows_path(&id.ca)])
        .args(["--cert", &windows_path(&id.cert)])
        .args(["--key", &windows_path(&id.key)])
        .succeeds();
    wine.cmd(&world)
        .arg("keychain")
        .succeeds()
        .stdout_has("Windows Credential Manager");

    wine.cmd(&world)
        .arg("list")
        .succeeds()
        .stdout_has("prod")
        .stdout_has(&server.url("127.0.0.1"));
    wine.cmd(&world)
        .args(["show", "prod"])
        .succeeds()
        .stdout_has("ECDSA")
        .stdout_has("valid until")
        .stdout_has("stored in Windows Credential Manager");

    // The config directory is in %APPDATA% and holds no key.
    let key_der = crate::harness::key_der(&id.key);
    let appdata = wine.prefix.join("drive_c/users");
    let mut files = std::collections::BTreeMap::new();
    crate::harness::collect_files(&appdata, &mut files);
    let config: Vec<_> = files
        .keys()
        .filter(|p| p.ends_with("config.toml"))
        .collect();
    assert_eq!(
        config.len(),
        1,
        "one config.toml under {}",
        appdata.display()
    );
    assert!(
        !files
            .values()
            .any(|bytes| bytes.windows(key_der.len()).any(|w| w == key_der)),
        "the key's DER is in a file under the user's profile"
    );

    // PowerShell statements, and a key file in %TEMP%\nomadctx that holds the key, named
    // after the shell that ran `use` (here cmd.exe: a process Wine starts from Linux has no
    // Windows parent).
    let out = wine
        .env(world.program("wine"))
        .args(["cmd", "/c", &windows_path(&wine.exe)])
        .args(["use", "prod", "--shell", "powershell"])
        .succeeds();
    out.stdout_has(&format!("$Env:NOMAD_ADDR='{}';", server.url("127.0.0.1")));
    let stdout = out.stdout_text();
    let key_path = stdout
        .lines()
        .find_map(|l| l.strip_prefix("$Env:NOMAD_CLIENT_KEY='"))
        .and_then(|rest| rest.strip_suffix("';"))
        .unwrap_or_else(|| panic!("no NOMAD_CLIENT_KEY in {stdout}"));
    assert!(key_path.contains("\\Temp\\nomadctx\\key-"), "{key_path}");
    assert!(
        !key_path.contains("\\key-0-"),
        "the key file should name the shell's pid: {key_path}"
    );
    assert_eq!(
        std::fs::read(wine.unix_path(key_path)).unwrap(),
        id.key_pem(),
        "the key file holds the key"
    );

    // exec: the command reads the key through NOMAD_CLIENT_KEY; the file is gone after.
    let out = wine
        .cmd(&world)
        .args([
            "exec",
            "prod",
            "--",
            "cmd",
            "/c",
            "type %NOMAD_CLIENT_KEY% & echo %NOMAD_ADDR%",
        ])
        .succeeds();
    out.stdout_has("-----BEGIN")
        .stdout_has(&server.url("127.0.0.1"));
    let temp = wine.unix_path(key_path).parent().unwrap().to_path_buf();
    let left: Vec<_> = std::fs::read_dir(&temp)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("exec-key-"))
        .collect();
    assert!(left.is_empty(), "exec left its key file: {left:?}");
    // Its exit status is the command's.
    let status = wine
        .cmd(&world)
        .args(["exec", "prod", "--", "cmd", "/c", "exit 3"])
        .output();
    assert_eq!(status.status.code(), Some(3), "{}", status.stderr_text());

    wine.cmd(&world)
        .args(["check", "prod"])
        .succeeds()
        .stdout_has("OK")
        .stdout_has("mutual TLS");

    // remove takes the key out of Credential Manager: a new context of the same name has
    // none of the old one's items.
    wine.cmd(&world).args(["remove", "prod"]).succeeds();
    wine.cmd(&world)
        .args(["exec", "prod", "--", "cmd", "/c", "exit 0"])
        .fails()
        .stderr_has("no context named \"prod\"");
}
