//! The subset of GLib's key-file format qemu-ga uses for its configuration and state files:
//! `[group]` headers, `key=value` lines, `#` comments, the `\s \n \t \r \\` value escapes.

use std::collections::HashMap;
use std::fmt::Write as _;

/// A parsed key file: group name -> key -> raw (unescaped) value.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KeyFile {
    groups: HashMap<String, HashMap<String, String>>,
}

impl KeyFile {
    /// Parses `text`; errors carry GLib's message.
    pub fn parse(text: &str) -> Result<KeyFile, String> {
        let mut file = KeyFile::default();
        let mut group: Option<String> = None;
        for line in text.lines() {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if let Some(name) = trimmed.strip_prefix('[') {
                let Some(name) = name.trim_end().strip_suffix(']') else {
                    return Err(bad_line(line));
                };
                file.groups.entry(name.to_owned()).or_default();
                group = Some(name.to_owned());
                continue;
            }
            let Some((key, value)) = trimmed.split_once('=') else {
                return Err(bad_line(line));
            };
            let key = key.trim_end();
            if key.is_empty() {
                return Err(bad_line(line));
            }
            let Some(group) = &group else {
                return Err("Key file does not start with a group".to_owned());
            };
            if key.contains('[') {
                // A translation (`key[locale]`): not used by the agent.
                continue;
            }
            let value = unescape(value.trim_start());
            file.groups
                .entry(group.clone())
                .or_default()
                .insert(key.to_owned(), value);
        }
        Ok(file)
    }

    /// The value of `key` in `group`, if present.
    pub fn get(&self, group: &str, key: &str) -> Option<&str> {
        self.groups.get(group)?.get(key).map(String::as_str)
    }

    /// A boolean value as GLib reads it (`true`/`false`/`1`/`0`).
    pub fn get_bool(&self, group: &str, key: &str) -> Result<Option<bool>, String> {
        let Some(value) = self.get(group, key) else {
            return Ok(None);
        };
        match value.trim_end() {
            "true" | "1" => Ok(Some(true)),
            "false" | "0" => Ok(Some(false)),
            _ => Err(format!(
                "Key file contains key \u{201c}{key}\u{201d} which has a value that cannot be interpreted."
            )),
        }
    }

    /// An integer value as GLib reads it (`None` if absent, `Err` if not an integer).
    pub fn get_i64(&self, group: &str, key: &str) -> Result<Option<i64>, String> {
        let Some(value) = self.get(group, key) else {
            return Ok(None);
        };
        value.trim().parse().map(Some).map_err(|_| {
            format!("Key file contains key \u{201c}{key}\u{201d} in group \u{201c}{group}\u{201d} which has a value that cannot be interpreted.")
        })
    }
}

fn bad_line(line: &str) -> String {
    format!("Key file contains line \u{201c}{line}\u{201d} which is not a key-value pair, group, or comment")
}

fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('s') => out.push(' '),
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Writes a `key=value` line with GLib's escaping (a leading space becomes `\s`).
pub fn write_entry(out: &mut String, key: &str, value: &str) {
    let _ = write!(out, "{key}=");
    for (i, c) in value.chars().enumerate() {
        match c {
            ' ' if i == 0 => out.push_str("\\s"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_glib() {
        let file = KeyFile::parse(
            "# c\n\n[general]\n  method = unix-listen  \npath=/a\\sb\\\\c\\n \nname[de]=x\n[other]\nk=v\n[general]\nverbose= true\n",
        )
        .unwrap();
        assert_eq!(file.get("general", "method"), Some("unix-listen  "));
        assert_eq!(file.get("general", "path"), Some("/a b\\c\n "));
        assert_eq!(file.get("general", "name"), None);
        assert_eq!(file.get_bool("general", "verbose"), Ok(Some(true)));
        assert_eq!(file.get("other", "k"), Some("v"));
    }

    #[test]
    fn errors() {
        assert_eq!(
            KeyFile::parse("x=1\n").unwrap_err(),
            "Key file does not start with a group"
        );
        assert!(KeyFile::parse("[general\n")
            .unwrap_err()
            .contains("\u{201c}[general\u{201d}"));
        let file = KeyFile::parse("[general]\ndaemon=TRUE\n").unwrap();
        assert!(file.get_bool("general", "daemon").is_err());
    }

    #[test]
    fn writes_escapes() {
        let mut out = String::new();
        write_entry(&mut out, "path", " a b\\c\n");
        assert_eq!(out, "path=\\sa b\\\\c\\n\n");
    }
}
