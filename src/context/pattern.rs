//! Shell-style patterns over context names (`exec --match`).

/// Whether a context name matches a shell-style pattern: `*` any run, `?` one character,
/// `[abc]`, `[a-z]` and `[!a-z]` one character of (or not of) a set. Names are ASCII.
pub fn matches_pattern(pattern: &str, name: &str) -> bool {
    glob(pattern.as_bytes(), name.as_bytes())
}

/// Two-pointer matching: on a mismatch, retry from the last `*` one character later, so
/// the cost stays linear in the name for each `*` instead of exponential.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut last_star: Option<(usize, usize)> = None;
    while n < name.len() {
        if pattern.get(p) == Some(&b'*') {
            p += 1;
            last_star = Some((p, n));
            continue;
        }
        match pattern.get(p).map(|_| element(pattern, p, name[n])) {
            Some((true, next)) => {
                p = next;
                n += 1;
            }
            _ => match last_star {
                Some((after_star, tried)) => {
                    p = after_star;
                    n = tried + 1;
                    last_star = Some((after_star, n));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// Whether the pattern element at `p` (not `*`) matches `c`, and where the next one starts.
fn element(pattern: &[u8], p: usize, c: u8) -> (bool, usize) {
    match pattern[p] {
        b'?' => (true, p + 1),
        b'[' => match class(&pattern[p + 1..], c) {
            Some((found, len)) => (found, p + 1 + len),
            // An unclosed `[` is an ordinary character, as in the shell.
            None => (c == b'[', p + 1),
        },
        literal => (literal == c, p + 1),
    }
}

/// Tests `c` against the bracket expression after a `[`; returns the outcome and the
/// length of the expression up to and including its `]`, or `None` when it is unclosed.
fn class(body: &[u8], c: u8) -> Option<(bool, usize)> {
    let negated = matches!(body.first(), Some(b'!' | b'^'));
    let start = usize::from(negated);
    // A `]` right after the opening is a member, not the end.
    let end = start + 1 + body.get(start + 1..)?.iter().position(|&b| b == b']')?;
    let members = &body[start..end];
    let mut found = false;
    let mut i = 0;
    while i < members.len() {
        if i + 2 < members.len() && members[i + 1] == b'-' {
            found |= (members[i]..=members[i + 2]).contains(&c);
            i += 3;
        } else {
            found |= members[i] == c;
            i += 1;
        }
    }
    Some((found != negated, end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_like_the_shell() {
        let cases = [
            ("prod-*", "prod-eu", true),
            ("prod-*", "prod-", true),
            ("prod-*", "staging", false),
            ("*", "anything", true),
            ("*-eu", "prod-eu", true),
            ("*-eu", "prod-us", false),
            ("p?od", "prod", true),
            ("p?od", "pod", false),
            ("[ps]*", "staging", true),
            ("[!ps]*", "staging", false),
            ("[a-c]x", "bx", true),
            ("[a-c]x", "dx", false),
            ("[]x]", "]", true),
            ("a[b", "a[b", true),
            ("prod", "prod", true),
            ("prod", "prod2", false),
            ("*a*b*", "xaybz", true),
            ("", "", true),
            ("", "x", false),
            ("**", "", true),
            ("a*", "b", false),
        ];
        for (pattern, name, expected) in cases {
            assert_eq!(
                matches_pattern(pattern, name),
                expected,
                "{pattern} vs {name}"
            );
        }
        // Many stars against a long name that almost matches must not take exponential time.
        let name = "a".repeat(64);
        assert!(!matches_pattern("*a*a*a*a*a*a*a*a*a*a*b", &name));
    }
}
