//! Schema files as QEMU reads them: text storage, line and column arithmetic (with QEMU's tab
//! quirk), include chains, and Python-style path handling (`os.path.join`, `abspath`,
//! `relpath`), which decides file names in messages and module names in dumps.

use std::cell::OnceCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An append-only store of file texts: texts never move, so parsed values can borrow them
/// while later includes are still being added.
#[derive(Default)]
pub(crate) struct TextArena {
    first: OnceCell<Box<ArenaNode>>,
}

struct ArenaNode {
    text: String,
    next: OnceCell<Box<ArenaNode>>,
}

impl TextArena {
    /// Stores `text` and returns a reference that lives as long as the arena.
    pub fn alloc(&self, text: String) -> &str {
        let mut slot = &self.first;
        while let Some(node) = slot.get() {
            slot = &node.next;
        }
        let node = slot.get_or_init(|| {
            Box::new(ArenaNode {
                text,
                next: OnceCell::new(),
            })
        });
        &node.text
    }
}

/// Index of a file in [`Files`].
pub(crate) type FileId = u32;

/// A position as QEMU's `QAPISourceInfo` knows it: a file and a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Loc {
    pub file: FileId,
    pub line: u32,
}

/// One schema file.
pub(crate) struct SourceFile<'a> {
    /// The path as QEMU builds it (root as given, includes joined onto the includer's dir).
    pub name: String,
    /// `name` as a path, for the model's source infos.
    pub path: Arc<Path>,
    pub text: &'a str,
    /// Byte offset of the start of every line.
    line_starts: Vec<u32>,
    /// The include directive that brought this file in.
    pub parent: Option<Loc>,
}

impl<'a> SourceFile<'a> {
    /// `line_starts` holds the byte offset of every line start (see [`line_starts`]).
    pub fn new(name: String, text: &'a str, parent: Option<Loc>, line_starts: Vec<u32>) -> Self {
        SourceFile {
            path: Path::new(&name).into(),
            name,
            text,
            line_starts,
            parent,
        }
    }

    /// Byte offset of the start of every line.
    pub fn line_starts(&self) -> &[u32] {
        &self.line_starts
    }

    /// 1-based line of a byte offset.
    pub fn line_of(&self, pos: u32) -> u32 {
        self.line_starts.partition_point(|&s| s <= pos) as u32
    }

    /// Byte offset where `line` (1-based) starts.
    pub fn line_start(&self, line: u32) -> usize {
        let i = (line.max(1) - 1) as usize;
        self.line_starts.get(i).copied().unwrap_or(0) as usize
    }

    /// Byte offset where `line` ends (its newline, or the end of the text).
    pub fn line_end(&self, line: u32) -> usize {
        match self.line_starts.get(line as usize) {
            Some(&next) => next as usize - 1,
            None => self.line_text(line).len() + self.line_start(line),
        }
    }

    /// The text of `line` without its newline.
    pub fn line_text(&self, line: u32) -> &'a str {
        let start = self.line_start(line);
        let rest = &self.text[start.min(self.text.len())..];
        rest.split('\n').next().unwrap_or("")
    }

    /// QEMU's column of a byte offset: 1 + characters since the line start, where a tab maps
    /// the running column `c` to `((c - 1) mod 8) + 1` (QEMU's tab handling never advances).
    pub fn column_of(&self, pos: u32) -> u32 {
        self.column_at(self.line_of(pos), pos)
    }

    /// [`SourceFile::column_of`] when the line of `pos` is known.
    pub fn column_at(&self, line: u32, pos: u32) -> u32 {
        let start = self.line_start(line);
        let end = (pos as usize).min(self.text.len());
        let mut col: u32 = 1;
        for ch in self.text[start.min(end)..end].chars() {
            if ch == '\t' {
                col = (col + 7) % 8 + 1;
            } else {
                col += 1;
            }
        }
        col
    }

    pub fn loc_of(&self, id: FileId, pos: u32) -> Loc {
        Loc {
            file: id,
            line: self.line_of(pos),
        }
    }
}

/// The byte offset of the start of every line of `text`.
pub(crate) fn line_starts(text: &str) -> Vec<u32> {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const NEWLINES: u64 = 0x0a0a_0a0a_0a0a_0a0a;
    let bytes = text.as_bytes();
    let mut starts = Vec::with_capacity(bytes.len() / 32 + 1);
    starts.push(0);
    // Eight bytes at a time: lines are short, so one search per line would cost more. The
    // high bit of each byte of `hits` is set exactly where `word` holds a newline.
    let mut words = bytes.chunks_exact(8);
    let mut base = 0u32;
    for chunk in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ NEWLINES;
        let mut hits = !(((x & LOW7) + LOW7) | x | LOW7);
        while hits != 0 {
            starts.push(base + hits.trailing_zeros() / 8 + 1);
            hits &= hits - 1;
        }
        base += 8;
    }
    for (i, &b) in words.remainder().iter().enumerate() {
        if b == b'\n' {
            starts.push(base + i as u32 + 1);
        }
    }
    starts
}

/// Python's `str.isspace()` for one character.
pub(crate) fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's universal newlines: `\r\n` and lone `\r` become `\n`; then a final `\n` is
/// ensured, as QEMU's parser does.
pub(crate) fn normalize_text(mut text: String) -> String {
    if text.contains('\r') {
        text = text.replace("\r\n", "\n").replace('\r', "\n");
    }
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// `os.path.dirname`.
pub(crate) fn py_dirname(path: &str) -> &str {
    let cut = path.rfind('/').map(|i| i + 1).unwrap_or(0);
    let head = &path[..cut];
    if !head.is_empty() && head.chars().any(|c| c != '/') {
        head.trim_end_matches('/')
    } else {
        head
    }
}

/// `os.path.join(dir, name)` for two components.
pub(crate) fn py_join(dir: &str, name: &str) -> String {
    if name.starts_with('/') || dir.is_empty() {
        name.to_string()
    } else if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// `os.path.normpath` for POSIX paths, as a list of components (absolute when `absolute`).
fn norm_components(path: &str) -> (bool, Vec<&str>) {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    push_components(&mut parts, path, absolute);
    (absolute, parts)
}

/// Appends the components of `path` to the normalised `parts`, resolving `.` and `..` (a
/// `..` above the root of an absolute path is dropped).
fn push_components<'p>(parts: &mut Vec<&'p str>, path: &'p str, absolute: bool) {
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
}

/// The current directory, as `os.path.abspath` would join onto relative paths.
pub(crate) fn current_dir() -> String {
    std::env::current_dir()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "/".to_string())
}

/// The components of `os.path.abspath(path)`: `os.path.join(cwd, path)` normalised.
fn abs_components<'p>(cwd: &'p str, path: &'p str) -> Vec<&'p str> {
    if path.starts_with('/') {
        return norm_components(path).1;
    }
    let (absolute, mut parts) = norm_components(cwd);
    push_components(&mut parts, path, absolute);
    parts
}

/// `os.path.abspath`: lexical, relative to `cwd`, no symlink resolution.
pub(crate) fn py_abspath(cwd: &str, path: &str) -> String {
    let parts = abs_components(cwd, path);
    let mut out = String::with_capacity(cwd.len() + path.len() + 1);
    for part in &parts {
        out.push('/');
        out.push_str(part);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// `os.path.relpath(path, start)`.
pub(crate) fn py_relpath(cwd: &str, path: &str, start: &str) -> String {
    let p = abs_components(cwd, path);
    let s = abs_components(cwd, start);
    let common = p.iter().zip(&s).take_while(|(a, b)| a == b).count();
    let mut out: Vec<&str> = vec![".."; s.len() - common];
    out.extend(&p[common..]);
    if out.is_empty() {
        ".".to_string()
    } else {
        out.join("/")
    }
}

/// Turns a message-style path back into something to open.
pub(crate) fn fs_path(name: &str) -> PathBuf {
    Path::new(name).to_path_buf()
}

/// The text of an I/O error the way Python's `strerror` gives it.
pub(crate) fn strerror(err: &std::io::Error) -> String {
    let text = err.to_string();
    match text.rfind(" (os error ") {
        Some(i) if text.ends_with(')') => text[..i].to_string(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> SourceFile<'_> {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i as u32 + 1));
        SourceFile::new("x".into(), text, None, starts)
    }

    #[test]
    fn arena_keeps_earlier_texts_alive() {
        let arena = TextArena::default();
        let a = arena.alloc("one".into());
        let b = arena.alloc("two".into());
        assert_eq!((a, b), ("one", "two"));
    }

    #[test]
    fn lines_and_columns() {
        let f = file("ab\ncd\n");
        assert_eq!(f.line_of(0), 1);
        assert_eq!(f.line_of(2), 1);
        assert_eq!(f.line_of(3), 2);
        assert_eq!(f.column_of(4), 2);
        assert_eq!(f.line_text(2), "cd");
    }

    #[test]
    fn line_starts_across_chunks() {
        // Newlines at both ends of 8-byte words, runs of them, bytes with the high bit set, and
        // the remainder.
        let mut text = String::new();
        for i in 0..300 {
            text.push(if i % 7 == 0 || i % 8 == 7 || (100..104).contains(&i) {
                '\n'
            } else if i % 5 == 0 {
                '\u{8a}'
            } else {
                'x'
            });
        }
        let mut expected = vec![0];
        expected.extend(text.match_indices('\n').map(|(i, _)| i as u32 + 1));
        assert_eq!(line_starts(&text), expected);
        assert_eq!(line_starts(""), vec![0]);
    }

    #[test]
    fn tab_never_advances_the_column() {
        // QEMU's quirk: a tab maps column c to ((c - 1) mod 8) + 1.
        let f = file("\t\tx\n");
        assert_eq!(f.column_of(2), 1);
        let f = file("abcdefghij\tx\n");
        // Column 11 before the tab wraps to 3.
        assert_eq!(f.column_of(11), 3);
    }

    #[test]
    fn universal_newlines() {
        assert_eq!(normalize_text("a\r\nb\rc".into()), "a\nb\nc\n");
        assert_eq!(normalize_text(String::new()), "\n");
    }

    #[test]
    fn python_paths() {
        assert_eq!(py_dirname("cases/x.json"), "cases");
        assert_eq!(py_dirname("x.json"), "");
        assert_eq!(py_dirname("/x.json"), "/");
        assert_eq!(py_join("", "a.json"), "a.json");
        assert_eq!(
            py_join("cases/include", "../s.json"),
            "cases/include/../s.json"
        );
        assert_eq!(py_join("cases", "/abs.json"), "/abs.json");
        assert_eq!(py_abspath("/x", "/a/b/../c/./d"), "/a/c/d");
        assert_eq!(py_abspath("/x", "b/../c"), "/x/c");
        assert_eq!(py_relpath("/", "/r/include/../s.json", "/r"), "s.json");
        assert_eq!(py_relpath("/r", "include/sub.json", ""), "include/sub.json");
        assert_eq!(py_relpath("/", "/x/y.json", "/r"), "../x/y.json");
    }

    #[test]
    fn strerror_drops_the_os_error_suffix() {
        let err = std::io::Error::from_raw_os_error(2);
        assert_eq!(strerror(&err), "No such file or directory");
    }
}
