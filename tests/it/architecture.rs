//! The house rules of src/ (issue 24), kept by a test: no file imports its way back to
//! itself, at most 20 entries at the top of src/, no file over 500 lines, and every
//! `NOMADCTX_*` name spelled out in src/settings.rs only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `src/keychain/file/mod.rs` is `keychain::file`.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The file that holds the longest prefix of `path` that is a module.
fn file_of(path: &[String]) -> Option<PathBuf> {
    (1..=path.len()).rev().find_map(|n| {
        let base = path[..n].iter().fold(src(), |p, part| p.join(part));
        [base.with_extension("rs"), base.join("mod.rs")]
            .into_iter()
            .find(|f| f.is_file())
    })
}

/// The files `file` names through `crate::` and `super::` paths, tests and comments aside.
fn imports(file: &Path) -> BTreeSet<PathBuf> {
    let text = std::fs::read_to_string(file).unwrap();
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
    let me = module_of(file);
    let mut found = BTreeSet::new();
    for line in code.lines().map(|l| l.split("//").next().unwrap()) {
        for (start, _) in line
            .match_indices("crate::")
            .chain(line.match_indices("super::"))
        {
            let rest = &line[start..];
            let mut parts: Vec<String> = rest
                .split("::")
                .skip(1)
                .map_while(|p| {
                    let name: String = p
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                        .collect();
                    (!name.is_empty()).then_some(name)
                })
                .collect();
            if rest.starts_with("super::") {
                let mut base = me[..me.len().saturating_sub(1)].to_vec();
                base.append(&mut parts);
                parts = base;
            }
            if let Some(target) = file_of(&parts).filter(|t| t != file) {
                found.insert(target);
            }
        }
    }
    found
}

#[test]
fn no_file_imports_its_way_back_to_itself() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let graph: BTreeMap<PathBuf, BTreeSet<PathBuf>> =
        files.iter().map(|f| (f.clone(), imports(f))).collect();
    for start in &files {
        // Everything reachable from `start`; a path back to it is a loop.
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&PathBuf> = graph[start].iter().collect();
        while let Some(next) = todo.pop() {
            assert!(
                next != start,
                "{} imports its way back to itself",
                start.display()
            );
            if seen.insert(next) {
                todo.extend(graph.get(next).into_iter().flatten());
            }
        }
    }
}

/// The top-level module a file belongs to (`keychain` for src/keychain/file/mod.rs); none
/// for lib.rs and main.rs.
fn layer_of(file: &Path) -> Option<String> {
    module_of(file).into_iter().next()
}

#[test]
fn the_layers_of_src_import_each_other_in_one_direction() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let Some(from) = layer_of(file) else { continue };
        let to: Vec<String> = imports(file)
            .iter()
            .filter_map(|t| layer_of(t))
            .filter(|t| *t != from)
            .collect();
        graph.entry(from).or_default().extend(to);
    }
    for start in graph.keys() {
        let mut seen = BTreeSet::new();
        let mut path = vec![start.clone()];
        let mut todo: Vec<(String, usize)> = graph[start].iter().map(|n| (n.clone(), 1)).collect();
        while let Some((next, depth)) = todo.pop() {
            path.truncate(depth);
            path.push(next.clone());
            assert!(
                next != *start,
                "a loop between layers of src/: {}",
                path.join(" -> ")
            );
            if seen.insert(next.clone()) {
                todo.extend(
                    graph
                        .get(&next)
                        .into_iter()
                        .flatten()
                        .map(|n| (n.clone(), depth + 1)),
                );
            }
        }
    }
}

#[test]
fn src_has_at_most_20_entries_and_no_file_over_500_lines() {
    let top = std::fs::read_dir(src()).unwrap().count();
    assert!(top <= 20, "src/ has {top} entries; group them by layer");
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    for file in files {
        let lines = std::fs::read_to_string(&file).unwrap().lines().count();
        assert!(
            lines <= 500,
            "{} has {lines} lines; give its second job a file of its own",
            file.display()
        );
    }
}

#[test]
fn every_nomadctx_variable_is_named_in_settings_only() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let naming: Vec<_> = files
        .iter()
        .filter(|f| std::fs::read_to_string(f).unwrap().contains("\"NOMADCTX_"))
        .map(|f| f.strip_prefix(src()).unwrap().display().to_string())
        .collect();
    assert_eq!(naming, ["settings.rs"]);
}
