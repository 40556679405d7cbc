//! Secret hygiene and signals: no key byte is left in a file after `exec`, however it ends;
//! no key or token byte reaches any output; the terminal passes through `exec` untouched.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::harness::{OutputExt, Step, World, add_cmd, exec_cat_key, first_line, pki};

use Step::{Expect, Send};

const TOKEN: &str = "acl-token-6b1f0c2e-hygiene";

/// A client key made for this test alone (signed by the shared test CA), so that a copy of
/// its bytes anywhere nomadctx can write can only have come from this test.
struct Own {
    /// Where the test made it: the one place its bytes belong.
    dir: PathBuf,
    /// A line of the key's PEM body and a slice of its DER: what a leaked copy would hold.
    needles: [Vec<u8>; 2],
}

fn world_with_own_key() -> (World, Own) {
    let world = World::new();
    let dir = world.tmp.path().join("own");
    let id = pki().fresh_client(&dir);
    let pem = String::from_utf8(id.key_pem()).unwrap();
    let der = std::fs::read(dir.join("key.der")).unwrap();
    let own = Own {
        needles: [
            pem.lines().nth(1).unwrap().as_bytes().to_vec(),
            der[36..68].to_vec(),
        ],
        dir,
    };
    add_cmd(&world, "prod", &id)
        .arg("--token-stdin")
        .stdin(TOKEN)
        .succeeds();
    (world, own)
}

/// Every file where nomadctx can write for the world (its HOME, runtime dir and data dir,
/// and the runtime fallbacks in /dev/shm and /tmp) that holds a needle, other than the key
/// files the test made itself.
fn leaked(world: &World, own: &Own) -> Vec<PathBuf> {
    let needles: Vec<&[u8]> = own.needles.iter().map(Vec::as_slice).collect();
    world.files_with_fresh_secrets(&needles, std::slice::from_ref(&own.dir))
}

/// Starts `exec prod -- sh -c SCRIPT` and waits for the child to say it is running.
fn exec_running(world: &World, script: &str) -> std::process::Child {
    let mut child = world
        .cmd()
        .args(["exec", "prod", "--", "sh", "-c", script])
        .cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let line = first_line(child.stdout.as_mut().unwrap());
    assert_eq!(line.trim(), "running");
    child
}

#[test]
fn no_key_bytes_in_any_file_after_exec_however_it_ends() {
    let (world, own) = world_with_own_key();
    assert!(leaked(&world, &own).is_empty());
    // The child really had the key.
    exec_cat_key(world.cmd(), "prod")
        .succeeds()
        .stdout_has(std::str::from_utf8(&own.needles[0]).unwrap());
    assert_eq!(leaked(&world, &own), Vec::<PathBuf>::new(), "normal exit");

    let killed = world
        .cmd()
        .args([
            "exec",
            "prod",
            "--",
            "sh",
            "-c",
            "cat \"$NOMAD_CLIENT_KEY\" >/dev/null; kill -9 $$",
        ])
        .output();
    assert_eq!(killed.code(), 128 + 9);
    assert_eq!(leaked(&world, &own), Vec::<PathBuf>::new(), "child killed");

    for (signal, code) in [("TERM", 128 + 15), ("INT", 128 + 2)] {
        let child = exec_running(&world, "echo running; exec sleep 30");
        let sent = Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(code), "SIG{signal} to nomadctx");
        assert_eq!(leaked(&world, &own), Vec::<PathBuf>::new(), "SIG{signal}");
    }
}

#[test]
fn no_key_or_token_bytes_in_any_output() {
    let (world, own) = world_with_own_key();
    let needles: Vec<&[u8]> = vec![&own.needles[0], &own.needles[1], TOKEN.as_bytes()];
    let runs: Vec<Vec<&str>> = vec![
        vec!["list"],
        vec!["list", "--json"],
        vec!["list", "--names"],
        vec!["show", "prod"],
        vec!["show", "prod", "--json"],
        vec!["current", "--context", "prod"],
        vec!["use", "prod", "--shell", "bash"],
        vec!["use", "prod", "--shell", "fish"],
        vec!["use", "prod", "--shell", "nu"],
        vec!["check", "prod"],
        vec!["doctor"],
        vec!["exec", "prod", "--", "no-such-command-here"],
        vec!["exec", "prod", "--", "sh", "-c", "exit 3"],
        vec!["set", "prod", "--address", "not a url"],
        vec!["add", "prod", "--address", "https://a:4646"],
        vec!["rename", "prod", "../x"],
        vec!["export-p12", "prod"],
    ];
    for args in runs {
        let out = world.cmd().args(&args).env("RUST_BACKTRACE", "1").output();
        for stream in [&out.stdout, &out.stderr] {
            for needle in &needles {
                let found = stream.windows(needle.len()).any(|w| w == *needle);
                assert!(
                    !found || (args[0] == "use" && *needle == TOKEN.as_bytes()),
                    "{args:?} printed a secret:\n{}",
                    String::from_utf8_lossy(stream)
                );
            }
        }
    }
}

/// `exec` hands the terminal to the command: all three streams are the terminal, input
/// typed at it reaches the command, and the command's exit status comes back.
#[test]
fn exec_passes_the_terminal_through_untouched() {
    let (world, _own) = world_with_own_key();
    let program = r#"
import os, sys
print("tty", os.isatty(0), os.isatty(1), os.isatty(2), os.ttyname(0) == os.ttyname(1), flush=True)
print("pgrp-is-foreground", os.tcgetpgrp(0) == os.getpgrp(), flush=True)
name = input("name? ")
print("got", name, flush=True)
sys.exit(4)
"#;
    std::fs::write(world.home.join("prog.py"), program).unwrap();
    std::fs::write(world.home.join(".bashrc"), "PS1='$ '\n").unwrap();
    world.terminal(
        &[
            Expect(r"\$ "),
            Send("nomadctx exec prod -- python3 prog.py; echo \"status=$?\"\r"),
            Expect("tty True True True True"),
            Expect("pgrp-is-foreground True"),
            Expect(r"name\? "),
            Send("alice\r"),
            Expect("got alice"),
            Expect("status=4"),
            Send("exit\r"),
        ],
        &["bash", "-i"],
        &[],
    );
}

/// Every readable mapping of a running process that holds one of the needles.
pub(crate) fn memory_holding(pid: u32, needles: &[&[u8]]) -> Vec<String> {
    use std::io::{Read, Seek, SeekFrom};
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut found = Vec::new();
    for line in maps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (range, perms) = (fields[0], fields[1]);
        let name = fields.get(5).copied().unwrap_or("anonymous");
        if !perms.starts_with('r') || name.starts_with("[v") {
            continue;
        }
        let (start, end) = range.split_once('-').unwrap();
        let start = u64::from_str_radix(start, 16).unwrap();
        let end = u64::from_str_radix(end, 16).unwrap();
        let mut data = vec![0; (end - start) as usize];
        if mem.seek(SeekFrom::Start(start)).is_err() || mem.read_exact(&mut data).is_err() {
            continue;
        }
        for (i, needle) in needles.iter().enumerate() {
            if data.windows(needle.len()).any(|w| w == *needle) {
                found.push(format!("needle {i} in {name} ({perms})"));
            }
        }
    }
    found
}

/// While `exec` waits for its command, nomadctx's own memory holds neither the key (it is in
/// the sealed memfd only) nor the token (the environment block is wiped once the child has
/// started): the buffers that carried them were zeroized.
#[test]
fn exec_wipes_key_and_token_from_its_memory_while_the_command_runs() {
    let (world, own) = world_with_own_key();
    let child = exec_running(&world, "echo running; exec sleep 30");
    let needles: [&[u8]; 3] = [&own.needles[0], &own.needles[1], TOKEN.as_bytes()];
    let found = memory_holding(child.id(), &needles);
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait_with_output();
    assert!(found.is_empty(), "nomadctx's memory still holds: {found:?}");
}

/// The command does not inherit Rust's ignored SIGPIPE: `yes | head -1` ends at once.
#[test]
fn exec_gives_the_command_default_signal_dispositions() {
    let (world, _own) = world_with_own_key();
    let out = world
        .program("bash")
        .args([
            "-c",
            "nomadctx exec prod -- yes | head -1; echo \"yes=${PIPESTATUS[0]}\"",
        ])
        .succeeds();
    out.stdout_has("y\nyes=141");
}
