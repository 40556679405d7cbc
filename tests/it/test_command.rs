//! The README's test command itself, on machines unlike this one: it asks before it installs
//! packages on a terminal, and says so when `localhost` does not resolve.

use std::path::Path;

use crate::harness::{OutputExt, Step, World, require_tool};

fn run_sh() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/run.sh")
        .display()
        .to_string()
}

#[test]
fn on_a_terminal_it_asks_before_installing_and_installs_nothing_when_told_no() {
    let world = World::headless();
    // A tool no machine has, so that a package is "missing".
    let tools = world.tmp.path().join("required-tools.txt");
    std::fs::write(
        &tools,
        "nomadctx-no-such-tool nomadctx-no-such-package # the test's\n",
    )
    .unwrap();
    world.terminal(
        &[
            Step::Expect("missing: nomadctx-no-such-package"),
            Step::Expect(r"about 270 packages"),
            Step::Expect(r"install them with .*apt-get\? \[y/N\]"),
            Step::Send("n\r"),
            Step::Expect("nothing installed; run again with -y"),
        ],
        &["bash", &run_sh()],
        &[
            ("NOMADCTX_REQUIRED_TOOLS", tools.to_str().unwrap()),
            ("CI", "false"),
            ("PATH", &std::env::var("PATH").unwrap()),
        ],
    );
}

#[test]
fn without_localhost_the_preflight_says_what_to_add() {
    require_tool("unshare");
    let world = World::headless();
    let empty = world.tmp.path().join("hosts");
    std::fs::write(&empty, "").unwrap();
    // A machine whose /etc/hosts names nothing (a debootstrap root), in a mount namespace.
    let out = world
        .program("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-c"])
        .arg(format!(
            "mount --bind '{}' /etc/hosts && exec bash '{}' --version",
            empty.display(),
            run_sh()
        ))
        .env("PATH", std::env::var("PATH").unwrap())
        .fails();
    out.stderr_has("the name localhost does not resolve")
        .stderr_has("127.0.0.1 localhost");
}
