//! A real terminal for tests that type: the pty driver in tests/support/terminal.py.

use super::*;

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
