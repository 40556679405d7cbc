//! Certificates made with openssl at test time, shared by every test of a run.

use super::*;

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
        openssl_in(&self.dir, args);
    }

    fn new_key(&self, name: &str, kind: &str) {
        let path = format!("{name}-key.pem");
        match kind {
            "ec" => new_ec_key(&self.dir, &path),
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

    /// A client identity made now in `dir` (a directory of the test's own), signed by the
    /// shared CA: no other test has its key, so a copy of its bytes found anywhere can only
    /// have come from the test that made it. Also leaves the key's DER in `key.der`.
    pub fn fresh_client(&self, dir: &Path) -> Identity {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::write(dir.join("client.ext"), CLIENT_EXT).unwrap();
        new_ec_key(dir, "key.pem");
        let run = |args: &[&str]| openssl_in(dir, args);
        run(&[
            "req",
            "-new",
            "-key",
            "key.pem",
            "-out",
            "req.csr",
            "-subj",
            "/CN=cli.fresh",
        ]);
        let (ca, ca_key) = (self.path("ca.pem"), self.path("ca-key.pem"));
        run(&[
            "x509",
            "-req",
            "-in",
            "req.csr",
            "-CA",
            ca.to_str().unwrap(),
            "-CAkey",
            ca_key.to_str().unwrap(),
            // The serial file in the test's own directory: next to the shared CA, tests
            // running at once rewrote it under each other and openssl failed to read it.
            "-CAserial",
            "ca.srl",
            "-CAcreateserial",
            "-out",
            "cert.pem",
            "-days",
            "30",
            "-extfile",
            "client.ext",
        ]);
        run(&[
            "pkey", "-in", "key.pem", "-outform", "DER", "-out", "key.der",
        ]);
        Identity {
            ca,
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        }
    }
}

/// Runs openssl with `args` in `dir`, and asserts it succeeded.
pub fn openssl_in(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A new P-256 private key in `dir`, named `file`.
pub fn new_ec_key(dir: &Path, file: &str) {
    openssl_in(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            file,
        ],
    );
}

/// The DER of a PEM private key file: what nomadctx stores in the keychain.
pub fn key_der(path: &Path) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::PrivateKeyDer::from_pem_file(path)
        .unwrap()
        .secret_der()
        .to_vec()
}

/// PEM text with whitespace removed, to compare keys across line-wrapping differences.
pub fn squash(pem: &[u8]) -> Vec<u8> {
    pem.iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect()
}
