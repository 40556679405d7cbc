//! What each secret's age file holds: one line that binds it to its item, then its bytes.
//!
//! The plaintext is `nomadctx-secret/1 STORE/CONTEXT/KIND/VERSION\n` followed by the secret
//! (the client key's DER, or the token): the line names the item the file was written for,
//! inside the encryption, so a file copied over another context's (or another store's, or
//! an older version's) is refused however it got there. By hand:
//! `age -d -i identity.age FILE | tail -n +2` gives the secret alone.
//!
//! Files written before the binding hold the secret alone; a store is bound (config.toml's
//! `file_bound = true`) once every secret in it has the line, and a bound store refuses a
//! file without it: only a file made with the `age` tool to the store's recipient has none.
//! Anyone who can write the store's directory and knows the line can still forge one: the
//! binding stops swaps and replays, not a writer who has the recipient.

use zeroize::Zeroizing;

const TAG: &str = "nomadctx-secret/1";

/// The plaintext for `secret`, bound to `account` (`STORE/CONTEXT/KIND/VERSION`).
pub fn bind(account: &str, secret: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut plain = Zeroizing::new(Vec::with_capacity(
        TAG.len() + account.len() + 2 + secret.len(),
    ));
    plain.extend_from_slice(TAG.as_bytes());
    plain.push(b' ');
    plain.extend_from_slice(account.as_bytes());
    plain.push(b'\n');
    plain.extend_from_slice(secret);
    plain
}

/// The secret in `plain` when it was written for `account`; in a store that is not bound
/// yet (`bound` false), a plaintext without the line is the secret itself. `Err` says why
/// the file is not this item's, for a message that names the context and the file.
pub fn unbind<'a>(plain: &'a [u8], account: &str, bound: bool) -> Result<&'a [u8], String> {
    let Some(rest) = plain
        .strip_prefix(TAG.as_bytes())
        .and_then(|rest| rest.strip_prefix(b" "))
    else {
        return if bound {
            Err(format!(
                "it does not begin with the `{TAG} ...` line nomadctx writes inside every secret, so nomadctx did not write it (made with the age tool to the store's recipient?) and refuses it"
            ))
        } else {
            Ok(plain)
        };
    };
    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let named = &rest[..end];
    if named != account.as_bytes() {
        return Err(format!(
            "it was written for another item ({}), not for {account}: it was copied or moved here from another context, store or version, and nomadctx refuses it",
            String::from_utf8_lossy(named)
        ));
    }
    Ok(rest.get(end + 1..).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "0123456789abcdef0123456789abcdef/c1/token/v1";

    #[test]
    fn a_bound_secret_opens_only_as_its_own_item() {
        let plain = bind(ACCOUNT, b"tok\nen");
        assert!(
            plain.starts_with(b"nomadctx-secret/1 0123456789abcdef0123456789abcdef/c1/token/v1\n")
        );
        for bound in [true, false] {
            assert_eq!(unbind(&plain, ACCOUNT, bound).unwrap(), b"tok\nen");
            let other = "0123456789abcdef0123456789abcdef/c2/token/v1";
            let err = unbind(&plain, other, bound).unwrap_err();
            assert!(
                err.contains(
                    "written for another item (0123456789abcdef0123456789abcdef/c1/token/v1)"
                ),
                "{err}"
            );
        }
        assert_eq!(unbind(&bind(ACCOUNT, b""), ACCOUNT, true).unwrap(), b"");
    }

    #[test]
    fn an_unbound_secret_opens_only_in_a_store_not_bound_yet() {
        assert_eq!(
            unbind(b"\x30\x82raw der", ACCOUNT, false).unwrap(),
            b"\x30\x82raw der"
        );
        assert!(
            unbind(b"\x30\x82raw der", ACCOUNT, true)
                .unwrap_err()
                .contains("did not write it")
        );
        // A line cut short names no item.
        assert!(unbind(b"nomadctx-secret/1 ", ACCOUNT, true).is_err());
    }
}
