//! Committed completions and man pages must match what the current binary generates.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::harness::{bin, collect_files};

const REGENERATE: &str = "regenerate with: for s in bash zsh fish powershell elvish; do cargo run -q -- completions $s > completions/nomadctx.$s; done; cargo run -q -- man man";

#[test]
fn committed_completions_match_the_binary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = Command::new(bin())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success());
        let committed =
            std::fs::read(root.join(format!("completions/nomadctx.{shell}"))).unwrap_or_default();
        assert!(
            committed == out.stdout,
            "completions/nomadctx.{shell} is stale; {REGENERATE}"
        );
    }
}

#[test]
fn committed_man_pages_match_the_binary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fresh = tempfile::tempdir().unwrap();
    let out = Command::new(bin())
        .arg("man")
        .arg(fresh.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let relative = |dir: &Path| -> BTreeMap<String, Vec<u8>> {
        let mut files = BTreeMap::new();
        collect_files(dir, &mut files);
        files
            .into_iter()
            .map(|(p, b)| (p.strip_prefix(dir).unwrap().display().to_string(), b))
            .collect()
    };
    let generated = relative(fresh.path());
    assert!(generated.contains_key("nomadctx.1") && generated.contains_key("nomadctx-use.1"));
    assert!(
        relative(&root.join("man")) == generated,
        "man/ is stale; {REGENERATE}"
    );
}

#[test]
fn man_without_a_directory_falls_back_to_the_user_s_own_when_the_binary_s_is_not_theirs() {
    // The README's static binary in /usr/local/bin, run by a normal user.
    let other = crate::harness::OtherAccount::new();
    let installed = other.installed_copy(Path::new(bin()));
    let out = other.command(&installed).arg("man").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let own = other.home.join(".local/share/man");
    assert!(
        stderr.contains(&format!("the man pages go to your own {}", own.display())),
        "{stderr}"
    );
    assert!(stderr.contains("MANPATH="), "{stderr}");
    // Written as that user, where the user can read them.
    let listed = other.command("ls").arg(own.join("man1")).output().unwrap();
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("nomadctx-use.1"),
        "{listed:?}"
    );
}
