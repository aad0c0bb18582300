//! Which commands are enabled: qemu-ga's allow/block lists, and the short list of commands
//! that may run while filesystems are frozen (which overrides the lists both ways).

/// Commands allowed while frozen (anything else could write to a frozen filesystem).
pub const FREEZE_SAFE: [&str; 6] = [
    "guest-ping",
    "guest-info",
    "guest-sync",
    "guest-sync-delimited",
    "guest-fsfreeze-status",
    "guest-fsfreeze-thaw",
];

/// The configured lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// If not empty, only these commands are allowed.
    pub allow: Vec<String>,
    /// These commands are not allowed (this wins over `allow`).
    pub block: Vec<String>,
}

impl Policy {
    pub fn new(allow: Vec<String>, block: Vec<String>) -> Policy {
        Policy { allow, block }
    }

    /// Whether `name` may run. Unknown names in the lists are simply never matched.
    pub fn allows(&self, name: &str, frozen: bool) -> bool {
        if frozen {
            return FREEZE_SAFE.contains(&name);
        }
        let listed = |list: &[String]| list.iter().any(|n| n == name);
        (self.allow.is_empty() || listed(&self.allow)) && !listed(&self.block)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn lists_and_freeze() {
        let open = Policy::default();
        assert!(open.allows("guest-exec", false));
        assert!(!open.allows("guest-exec", true));
        assert!(open.allows("guest-fsfreeze-thaw", true));

        let p = Policy::new(
            names(&["guest-ping", "guest-exec"]),
            names(&["guest-exec", "nope"]),
        );
        assert!(p.allows("guest-ping", false));
        assert!(!p.allows("guest-exec", false), "block wins over allow");
        assert!(!p.allows("guest-info", false), "not in the allow list");
        assert!(
            p.allows("guest-info", true),
            "freeze-safe overrides the allow list"
        );

        let blocked = Policy::new(Vec::new(), names(&["guest-ping"]));
        assert!(!blocked.allows("guest-ping", false));
        assert!(
            blocked.allows("guest-ping", true),
            "freeze-safe overrides the block list"
        );
    }
}
