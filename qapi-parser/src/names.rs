//! QAPI naming rules: the valid-name shape, case rules, and C-name mangling (QEMU's
//! `c_name`). Clash checks compare unprotected C names: QEMU's protection prefixes `q_` to
//! keywords and digit-led names, and since no valid name starts with `q_` that never changes
//! whether two names are equal.

/// The stem of a valid name, per QEMU's `(__[a-z0-9.-]+_)?(x-)?([a-z][a-z0-9_-]*)$`
/// (case-insensitive), or `None` if the name is invalid. The candidates are tried in the
/// order a backtracking regex tries them.
pub(crate) fn stem(name: &str) -> Option<&str> {
    // The downstream prefix's class excludes '_', so it can only end at the first '_'.
    if let Some(rest) = name.strip_prefix("__") {
        let run = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'-')
            .count();
        if run > 0 && rest[run..].starts_with('_') {
            if let Some(s) = experimental_stem(&rest[run + 1..]) {
                return Some(s);
            }
        }
    }
    experimental_stem(name)
}

/// With, then without, the optional `x-` prefix.
fn experimental_stem(s: &str) -> Option<&str> {
    if s.len() >= 2 && s[..2].eq_ignore_ascii_case("x-") && is_stem(&s[2..]) {
        return Some(&s[2..]);
    }
    is_stem(s).then_some(s)
}

fn is_stem(s: &str) -> bool {
    let mut bytes = s.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `c_name(name, protect=False)`: every character outside `[A-Za-z0-9_]` becomes `_`.
pub(crate) fn c_name_raw(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The shape check shared by all names: a valid stem and no `q_` prefix after mangling.
/// Returns the stem, or `Err(())` for "has an invalid name".
pub(crate) fn check_shape(name: &str) -> Result<&str, ()> {
    // Mangled, a name starts with `q_` when it is `q` then a non-alphanumeric character.
    let b = name.as_bytes();
    let q_prefixed = b.len() >= 2 && b[0] == b'q' && !b[1].is_ascii_alphanumeric();
    match stem(name) {
        Some(s) if !q_prefixed => Ok(s),
        _ => Err(()),
    }
}

/// Why a name failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NameError {
    Invalid,
    Case,
}

/// Lower-case rule (commands, members, values, branches, features).
pub(crate) fn check_lower(
    name: &str,
    permit_upper: bool,
    permit_underscore: bool,
) -> Result<(), NameError> {
    let stem = check_shape(name).map_err(|_| NameError::Invalid)?;
    if (!permit_upper && stem.bytes().any(|b| b.is_ascii_uppercase()))
        || (!permit_underscore && stem.contains('_'))
    {
        return Err(NameError::Case);
    }
    Ok(())
}

/// Upper-case rule (events): no lower case, no `-`.
pub(crate) fn check_upper(name: &str) -> Result<(), NameError> {
    let stem = check_shape(name).map_err(|_| NameError::Invalid)?;
    if stem.bytes().any(|b| b.is_ascii_lowercase() || b == b'-') {
        return Err(NameError::Case);
    }
    Ok(())
}

/// CamelCase rule (types): `[A-Z][A-Za-z0-9]*[a-z][A-Za-z0-9]*`.
pub(crate) fn check_camel(name: &str) -> Result<(), NameError> {
    let stem = check_shape(name).map_err(|_| NameError::Invalid)?;
    let b = stem.as_bytes();
    let ok = b.first().is_some_and(|c| c.is_ascii_uppercase())
        && b.iter().all(|c| c.is_ascii_alphanumeric())
        && b[1..].iter().any(|c| c.is_ascii_lowercase());
    if ok {
        Ok(())
    } else {
        Err(NameError::Case)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems() {
        assert_eq!(stem("foo"), Some("foo"));
        assert_eq!(stem("x-foo"), Some("foo"));
        assert_eq!(stem("X-Foo"), Some("Foo"));
        assert_eq!(stem("__org.qemu_x-foo"), Some("foo"));
        assert_eq!(stem("__ORG.QEMU_X-EVENT"), Some("EVENT"));
        assert_eq!(stem("x-"), Some("x-"));
        assert_eq!(stem("x-1"), Some("x-1"));
        assert_eq!(stem("__a_b_c"), Some("b_c"));
        assert_eq!(stem("__a_1"), None);
        assert_eq!(stem("_oops"), None);
        assert_eq!(stem("a.b"), None);
        assert_eq!(stem(""), None);
        assert_eq!(stem("*oops"), None);
        assert_eq!(stem("not\\possible"), None);
    }

    #[test]
    fn q_prefix_is_reserved() {
        assert!(check_shape("q-unix").is_err());
        assert!(check_shape("q_foo").is_err());
        assert!(check_shape("Q-foo").is_ok());
    }

    #[test]
    fn case_rules() {
        assert_eq!(check_camel("Foo"), Ok(()));
        assert_eq!(check_camel("U"), Err(NameError::Case));
        assert_eq!(check_camel("FOO"), Err(NameError::Case));
        assert_eq!(check_camel("not-a-camel"), Err(NameError::Case));
        assert_eq!(check_camel("__org.qemu_x-Foo"), Ok(()));
        assert_eq!(check_lower("a_b", false, false), Err(NameError::Case));
        assert_eq!(check_lower("a_b", false, true), Ok(()));
        assert_eq!(check_lower("Arg", false, false), Err(NameError::Case));
        assert_eq!(check_upper("EVENT_A"), Ok(()));
        assert_eq!(check_upper("event-a"), Err(NameError::Case));
    }

    #[test]
    fn c_names() {
        assert_eq!(c_name_raw("a-b"), "a_b");
        assert_eq!(c_name_raw("__org.qemu_x"), "__org_qemu_x");
    }
}
