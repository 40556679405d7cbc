//! The README and the manual in docs/ keep their links honest: every relative link names a
//! file of this repository, and every `#anchor` a heading of that file (GitHub's slugs).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The README is the first thing a newcomer reads: the manual is a link away, not in it.
const README_MAX_LINES: usize = 250;

#[test]
fn every_relative_link_in_the_readme_and_docs_resolves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let pages = markdown_pages(root);
    assert!(
        pages.len() > 1,
        "expected README.md and docs/*.md, found {pages:?}"
    );
    let broken: Vec<String> = pages
        .iter()
        .flat_map(|page| broken_links(root, page))
        .collect();
    assert!(
        broken.is_empty(),
        "broken links:\n  {}",
        broken.join("\n  ")
    );
}

#[test]
fn the_readme_stays_short() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines, more than {README_MAX_LINES}: move the detail to docs/ and link to it"
    );
}

#[test]
fn the_link_check_finds_a_missing_file_a_missing_anchor_and_a_link_out_of_the_repository() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("repo");
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::write(
        root.join("docs/guide.md"),
        "# The guide\n\n## Where things are kept, and `why`\n\n    [in code](nowhere.md)\n",
    )
    .unwrap();
    std::fs::write(tmp.path().join("outside.md"), "# Outside\n").unwrap();
    let readme = root.join("README.md");
    std::fs::write(
        &readme,
        "# Repo\n\n\
         [fine](docs/guide.md#where-things-are-kept-and-why) [here](#repo) [web](https://example.com/x)\n\
         [gone](docs/gone.md) [no heading](docs/guide.md#nothing) `[code](gone.md)`\n\
         [out](../outside.md)\n\n\
         ```\n[fenced](gone.md)\n```\n",
    )
    .unwrap();
    let broken = broken_links(&root, &readme);
    assert_eq!(broken.len(), 3, "{broken:#?}");
    assert!(broken[0].contains("docs/gone.md"), "{broken:#?}");
    assert!(broken[1].contains("docs/guide.md#nothing"), "{broken:#?}");
    assert!(broken[2].contains("../outside.md"), "{broken:#?}");
}

#[test]
fn slugs_are_github_s() {
    let slugs = heading_slugs(
        "# Crashes, concurrent runs and `doctor`\n## The picker and `use -`\n### NOMADCTX_CONTEXT\n\
         # Again\n# Again\n```\n# not a heading\n```\n",
    );
    let expected = [
        "crashes-concurrent-runs-and-doctor",
        "the-picker-and-use--",
        "nomadctx_context",
        "again",
        "again-1",
    ];
    let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
    assert_eq!(slugs, expected);
}

/// README.md and every page of docs/.
fn markdown_pages(root: &Path) -> Vec<PathBuf> {
    let mut pages = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .map(|entries| {
            entries
                .map(|entry| entry.unwrap().path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
                .collect()
        })
        .unwrap_or_default();
    docs.sort();
    pages.extend(docs);
    pages
}

/// Every relative link of `page` that does not resolve, as `page: target (why)`.
fn broken_links(root: &Path, page: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(page).unwrap();
    let name = page
        .strip_prefix(root)
        .unwrap_or(page)
        .display()
        .to_string();
    let root = root.canonicalize().unwrap();
    let mut broken = Vec::new();
    for target in link_targets(&text) {
        if is_external(&target) {
            continue;
        }
        let (path, anchor) = match target.split_once('#') {
            Some((path, anchor)) => (path, Some(anchor)),
            None => (target.as_str(), None),
        };
        let file = if path.is_empty() {
            page.to_path_buf()
        } else {
            page.parent().unwrap().join(path)
        };
        let why = match file.canonicalize() {
            Err(_) => Some("no such file".to_owned()),
            Ok(file) if !file.starts_with(&root) => Some("outside the repository".to_owned()),
            Ok(file) => anchor.and_then(|anchor| missing_anchor(&file, anchor)),
        };
        if let Some(why) = why {
            broken.push(format!("{name}: {target} ({why})"));
        }
    }
    broken
}

fn missing_anchor(file: &Path, anchor: &str) -> Option<String> {
    if file.extension().is_none_or(|ext| ext != "md") {
        return Some("an anchor into a file that is not Markdown".to_owned());
    }
    let slugs = heading_slugs(&std::fs::read_to_string(file).unwrap());
    (!slugs.contains(anchor)).then(|| format!("no heading with this anchor; there are {slugs:?}"))
}

fn is_external(target: &str) -> bool {
    target.starts_with("//")
        || target.split_once(':').is_some_and(|(scheme, _)| {
            !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphabetic())
        })
}

/// The targets of inline links and images (`[text](target)`) and of reference definitions
/// (`[label]: target`), outside code blocks and code spans.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    for line in prose_lines(text) {
        let line = without_code_spans(line);
        if let Some(rest) = line.trim_start().strip_prefix('[')
            && let Some((_, definition)) = rest.split_once(']')
            && let Some(target) = definition.strip_prefix(':')
        {
            targets.extend(target.split_whitespace().next().map(unbracket));
            continue;
        }
        let mut rest = line.as_str();
        while let Some(start) = rest.find("](") {
            rest = &rest[start + 2..];
            let mut depth = 0;
            let end = rest
                .char_indices()
                .find(|&(_, c)| match c {
                    '(' => {
                        depth += 1;
                        false
                    }
                    ')' if depth == 0 => true,
                    ')' => {
                        depth -= 1;
                        false
                    }
                    _ => false,
                })
                .map_or(rest.len(), |(i, _)| i);
            // A title may follow the destination: [text](target "title").
            if let Some(target) = rest[..end].split_whitespace().next() {
                targets.push(unbracket(target));
            }
            rest = &rest[end..];
        }
    }
    targets
}

fn unbracket(target: &str) -> String {
    target
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned()
}

/// The lines that are not code: fenced blocks (```, ~~~) and indented blocks (four spaces
/// or a tab; list items in these pages continue with two) are left out.
fn prose_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut fence: Option<&str> = None;
    text.lines().filter(move |line| {
        let trimmed = line.trim_start();
        if let Some(open) = fence {
            if trimmed.starts_with(open) {
                fence = None;
            }
            return false;
        }
        for open in ["```", "~~~"] {
            if trimmed.starts_with(open) {
                fence = Some(open);
                return false;
            }
        }
        !(line.starts_with("    ") || line.starts_with('\t'))
    })
}

/// `line` with each code span (opened by a run of backticks, closed by a run as long) blanked.
fn without_code_spans(line: &str) -> String {
    let mut prose = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        prose.push_str(&rest[..start]);
        let ticks = rest[start..].chars().take_while(|&c| c == '`').count();
        let after = &rest[start + ticks..];
        let fence = "`".repeat(ticks);
        // The closing run must be exactly as long as the opening one.
        let close = after.match_indices(&fence).find(|&(i, _)| {
            !after[i + ticks..].starts_with('`') && (i == 0 || !after[..i].ends_with('`'))
        });
        match close {
            Some((i, _)) => {
                prose.push(' ');
                rest = &after[i + ticks..];
            }
            None => {
                // An unclosed run is literal text.
                prose.push_str(&fence);
                rest = after;
            }
        }
    }
    prose.push_str(rest);
    prose
}

/// The anchors GitHub gives a page's headings: lower case, punctuation other than `-` and
/// `_` dropped, each space a `-`, and `-1`, `-2`, ... after a slug seen before.
fn heading_slugs(text: &str) -> BTreeSet<String> {
    let mut slugs = BTreeSet::new();
    for line in prose_lines(text) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let title = line[hashes..].trim().trim_end_matches('#').trim_end();
        let slug: String = title
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                '-' | '_' => Some(c),
                c if c.is_alphanumeric() => Some(c),
                _ => None,
            })
            .collect();
        let mut unique = slug.clone();
        let mut n = 0;
        while slugs.contains(&unique) {
            n += 1;
            unique = format!("{slug}-{n}");
        }
        slugs.insert(unique);
    }
    slugs
}
