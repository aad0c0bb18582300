//! A writer for the `newc` cpio format, the one the kernel unpacks as an initramfs.

use std::collections::BTreeMap;
use std::io::{self, Write};

/// What one path in the archive is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir { mode: u32 },
    File { mode: u32, data: Vec<u8> },
    Symlink { target: String },
    CharDevice { mode: u32, major: u32, minor: u32 },
}

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;

/// An archive being assembled; paths are relative (`bin/sh`), parents are added as needed.
#[derive(Default)]
pub struct Archive {
    nodes: BTreeMap<String, Node>,
}

impl Archive {
    /// Adds or replaces `path`, creating missing parent directories (mode 0755).
    pub fn insert(&mut self, path: &str, node: Node) {
        let path = path.trim_matches('/');
        let mut parent = String::new();
        for part in path
            .split('/')
            .collect::<Vec<_>>()
            .iter()
            .rev()
            .skip(1)
            .rev()
        {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(part);
            self.nodes
                .entry(parent.clone())
                .or_insert(Node::Dir { mode: 0o755 });
        }
        self.nodes.insert(path.to_string(), node);
    }

    pub fn dir(&mut self, path: &str) {
        self.insert(path, Node::Dir { mode: 0o755 });
    }

    pub fn file(&mut self, path: &str, mode: u32, data: impl Into<Vec<u8>>) {
        let data = data.into();
        self.insert(path, Node::File { mode, data });
    }

    pub fn symlink(&mut self, path: &str, target: &str) {
        let target = target.to_string();
        self.insert(path, Node::Symlink { target });
    }

    pub fn contains(&self, path: &str) -> bool {
        self.nodes.contains_key(path.trim_matches('/'))
    }

    /// Writes the archive; paths come out sorted, so parents precede children.
    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        for (ino, (path, node)) in self.nodes.iter().enumerate() {
            let (mode, body, major, minor): (u32, &[u8], u32, u32) = match node {
                Node::Dir { mode } => (S_IFDIR | mode, &[], 0, 0),
                Node::File { mode, data } => (S_IFREG | mode, data, 0, 0),
                Node::Symlink { target } => (S_IFLNK | 0o777, target.as_bytes(), 0, 0),
                Node::CharDevice { mode, major, minor } => (S_IFCHR | mode, &[], *major, *minor),
            };
            let nlink = if matches!(node, Node::Dir { .. }) {
                2
            } else {
                1
            };
            write_entry(out, ino as u32 + 1, mode, nlink, path, body, (major, minor))?;
        }
        write_entry(out, 0, 0, 1, "TRAILER!!!", &[], (0, 0))
    }
}

fn write_entry(
    out: &mut impl Write,
    ino: u32,
    mode: u32,
    nlink: u32,
    name: &str,
    body: &[u8],
    (rdev_major, rdev_minor): (u32, u32),
) -> io::Result<()> {
    let too_big = || io::Error::new(io::ErrorKind::InvalidInput, format!("{name} is over 4 GiB"));
    let size = u32::try_from(body.len()).map_err(|_| too_big())?;
    let name_size = name.len() as u32 + 1;
    // Fields: ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check.
    let fields = [
        ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev_major, rdev_minor, name_size, 0,
    ];
    let mut header = String::from("070701");
    for field in fields {
        header.push_str(&format!("{field:08x}"));
    }
    out.write_all(header.as_bytes())?;
    out.write_all(name.as_bytes())?;
    out.write_all(&[0])?;
    pad(out, 110 + name.len() + 1)?;
    out.write_all(body)?;
    pad(out, body.len())
}

/// Pads to the 4-byte boundary newc requires after headers+names and after data.
fn pad(out: &mut impl Write, written: usize) -> io::Result<()> {
    out.write_all(&[0; 3][..(4 - written % 4) % 4])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_aligned_newc_entries_with_parents() {
        let mut archive = Archive::default();
        archive.file("bin/hello", 0o755, b"hi!\n".to_vec());
        let mut out = Vec::new();
        archive.write_to(&mut out).unwrap();
        assert_eq!(out.len() % 4, 0);
        // First entry is the implied parent directory "bin".
        assert_eq!(&out[..6], b"070701");
        assert_eq!(&out[6 + 8..6 + 16], b"000041ed");
        assert_eq!(&out[110..114], b"bin\0");
        let second = out.windows(10).position(|w| w == b"bin/hello\0").unwrap() - 110;
        assert_eq!(second % 4, 0);
        assert_eq!(&out[second + 6 + 8..second + 6 + 16], b"000081ed");
        assert_eq!(&out[second + 6 + 48..second + 6 + 56], b"00000004");
        let data_at = (second + 110 + 10).next_multiple_of(4);
        assert_eq!(&out[data_at..data_at + 4], b"hi!\n");
        assert!(out.windows(11).any(|w| w == b"TRAILER!!!\0"));
    }
}
