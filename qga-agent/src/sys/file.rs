//! guest-file-*: the table of files opened by the client, with qemu-ga's stdio-visible results.
//!
//! qemu-ga wraps each file in a C `FILE *`. We keep the raw descriptor and reproduce what a
//! client can observe of stdio (`fread`/`feof`/`fwrite`/`fseek`+`ftell`) without its buffer:
//! reads go straight into the returned `Vec`, writes go straight to the kernel. Because nothing
//! is buffered, the flush/seek stdio needs when switching between reading and writing is a no-op
//! here, and written data is visible to other processes at once.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::fcntl::{self, OFlag};
use nix::sys::stat::{self, Mode};
use nix::unistd;
use qga_types::qapi_runtime::Base64Bytes;
use qga_types::{GuestFileRead, GuestFileSeek, GuestFileWrite};

use super::{base64, SysError};

/// `count` used by `guest-file-read` when the client gives none.
pub const DEFAULT_READ_COUNT: i64 = 4096;
/// Largest `count` `guest-file-read` accepts (48 MiB).
pub const MAX_READ_COUNT: i64 = 48 * 1024 * 1024;

/// Origin of a seek (QAPI `QGASeek`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whence {
    Set,
    Cur,
    End,
}

impl Whence {
    /// The integer form of `whence`: 0, 1, 2; anything else is `invalid whence code <n>`.
    pub fn from_code(code: i64) -> Result<Whence, SysError> {
        match code {
            0 => Ok(Whence::Set),
            1 => Ok(Whence::Cur),
            2 => Ok(Whence::End),
            _ => Err(SysError::new(format!("invalid whence code {code}"))),
        }
    }
}

/// The open flags for one of qemu-ga's mode strings (`None` means `r`).
pub fn open_flags(mode: Option<&str>) -> Result<OFlag, SysError> {
    let create = OFlag::O_CREAT;
    let flags = match mode.unwrap_or("r") {
        "r" | "rb" => OFlag::O_RDONLY,
        "w" | "wb" => OFlag::O_WRONLY | create | OFlag::O_TRUNC,
        "a" | "ab" => OFlag::O_WRONLY | create | OFlag::O_APPEND,
        "r+" | "rb+" | "r+b" => OFlag::O_RDWR,
        "w+" | "wb+" | "w+b" => OFlag::O_RDWR | create | OFlag::O_TRUNC,
        "a+" | "ab+" | "a+b" => OFlag::O_RDWR | create | OFlag::O_APPEND,
        other => return Err(SysError::new(format!("invalid file open mode '{other}'"))),
    };
    Ok(flags)
}

/// Opens `path` as `guest-file-open` does: `O_NOCTTY | O_NONBLOCK | O_CLOEXEC` added; modes
/// that may create first try `O_CREAT | O_EXCL` and give a new file mode 0666 regardless of the
/// umask, and an existing file is opened without touching its permissions.
pub fn open_file(path: &str, mode: Option<&str>) -> Result<File, SysError> {
    let flags = open_flags(mode)? | OFlag::O_NOCTTY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let mode_text = mode.unwrap_or("r");
    let open_error = |errno| {
        SysError::with_errno(
            format!("failed to open file '{path}' (mode: '{mode_text}')"),
            errno,
        )
    };
    let fd: OwnedFd = if flags.contains(OFlag::O_CREAT) {
        match fcntl::open(path, flags | OFlag::O_EXCL, Mode::empty()) {
            Ok(fd) => {
                if let Err(errno) = stat::fchmod(&fd, Mode::from_bits_truncate(0o666)) {
                    drop(fd);
                    // The file is ours and unusable: do not leave a mode-0 file behind.
                    let _ = std::fs::remove_file(path);
                    return Err(SysError::with_errno(
                        format!(
                            "failed to set permission 0666 on new file '{path}' (mode: '{mode_text}')"
                        ),
                        errno,
                    ));
                }
                fd
            }
            Err(Errno::EEXIST) => {
                fcntl::open(path, flags - OFlag::O_CREAT, Mode::empty()).map_err(open_error)?
            }
            Err(errno) => return Err(open_error(errno)),
        }
    } else {
        fcntl::open(path, flags, Mode::empty()).map_err(open_error)?
    };
    Ok(File::from(fd))
}

/// Reads up to `count` bytes from `file` with `fread`'s visible results.
///
/// The read loops until `count` bytes arrived or the kernel reports end of file; only the
/// latter sets `eof` (so a read that ends exactly at the end of the file reports `false`, and
/// the next one returns 0 bytes with `true`). `EAGAIN` with nothing read (an empty non-blocking
/// FIFO) is the error `failed to read file: Resource temporarily unavailable`; if some bytes
/// were read before `EAGAIN` they are returned with `eof: false` (stdio would report the error
/// and lose them).
pub fn read_file(mut file: &File, count: usize) -> Result<GuestFileRead, SysError> {
    // Zeroed allocation: large ones come straight from mmap, so pages the kernel does not
    // write into are never touched, and the bytes land in the buffer that is returned.
    let mut data = vec![0u8; count];
    let mut filled = 0;
    let mut eof = false;
    while filled < count {
        match file.read(&mut data[filled..]) {
            Ok(0) => {
                eof = true;
                break;
            }
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) if err.kind() == io::ErrorKind::WouldBlock && filled > 0 => break,
            Err(err) => return Err(SysError::with_io("failed to read file", &err)),
        }
    }
    data.truncate(filled);
    Ok(GuestFileRead {
        count: filled as i64,
        buf_b64: Base64Bytes(data),
        eof,
    })
}

/// Writes `data` to `file` completely, as `fwrite` does (retrying short writes); `eof` is
/// always false after a write.
///
/// If the kernel refuses more data after some bytes went out (a full non-blocking pipe), the
/// number written so far is returned; an error before anything was written is
/// `failed to write to file: <strerror>`.
pub fn write_file(mut file: &File, data: &[u8]) -> Result<GuestFileWrite, SysError> {
    let mut written = 0;
    while written < data.len() {
        match file.write(&data[written..]) {
            Ok(0) => break,
            Ok(n) => written += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) if err.kind() == io::ErrorKind::WouldBlock && written > 0 => break,
            Err(err) => return Err(SysError::with_io("failed to write to file", &err)),
        }
    }
    Ok(GuestFileWrite {
        count: written as i64,
        eof: false,
    })
}

/// `fseek` + `ftell`: moves the file position and reports the new one (a seek clears `eof`).
pub fn seek_file(file: &File, offset: i64, whence: Whence) -> Result<GuestFileSeek, SysError> {
    let whence = match whence {
        Whence::Set => unistd::Whence::SeekSet,
        Whence::Cur => unistd::Whence::SeekCur,
        Whence::End => unistd::Whence::SeekEnd,
    };
    match unistd::lseek(file, offset, whence) {
        Ok(position) => Ok(GuestFileSeek {
            position,
            eof: false,
        }),
        Err(errno) => Err(SysError::with_errno("failed to seek file", errno)),
    }
}

/// The `whence` argument of `guest-file-seek` as the client sent it (the `GuestFileWhence`
/// alternate): an integer code, checked only after the handle was found, or a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenceArg {
    Code(i64),
    Name(Whence),
}

impl From<Whence> for WhenceArg {
    fn from(whence: Whence) -> Self {
        WhenceArg::Name(whence)
    }
}

/// The files opened by the client, by handle.
///
/// Handles come from the caller (qemu-ga's persistent counter: first 1000, never reused) so the
/// caller can persist the counter before the handle is handed out.
#[derive(Debug, Default)]
pub struct FileTable {
    files: HashMap<i64, File>,
}

impl FileTable {
    /// An empty table.
    pub fn new() -> Self {
        FileTable::default()
    }

    /// `guest-file-open`: opens `path` with `mode` (default `r`), then asks `allocate` for the
    /// handle. `allocate` must take the next counter value and persist the counter; if it fails
    /// (`failed to commit persistent state to disk`) the file is closed and its error returned.
    pub fn open(
        &mut self,
        path: &str,
        mode: Option<&str>,
        allocate: impl FnOnce() -> Result<i64, SysError>,
    ) -> Result<i64, SysError> {
        let file = open_file(path, mode)?;
        let handle = allocate()?;
        self.files.insert(handle, file);
        Ok(handle)
    }

    /// `guest-file-close`: removes the handle and closes the file (`failed to close handle:
    /// <strerror>` if the kernel reports an error; the handle is gone either way).
    pub fn close(&mut self, handle: i64) -> Result<(), SysError> {
        let file = self
            .files
            .remove(&handle)
            .ok_or_else(|| not_found(handle))?;
        let fd = OwnedFd::from(file);
        unistd::close(fd).map_err(|errno| SysError::with_errno("failed to close handle", errno))
    }

    /// `guest-file-read`: `count` defaults to 4096 and must be within 0..=48 MiB
    /// (`value '<n>' is invalid for argument count`). See [`read_file`].
    pub fn read(&mut self, handle: i64, count: Option<i64>) -> Result<GuestFileRead, SysError> {
        let file = self.get(handle)?;
        let count = count.unwrap_or(DEFAULT_READ_COUNT);
        let count = match usize::try_from(count) {
            Ok(n) if count <= MAX_READ_COUNT => n,
            _ => return Err(invalid_count(count)),
        };
        read_file(file, count)
    }

    /// `guest-file-write`: decodes `buf_b64` (see [`base64::decode`]); `count` defaults to the
    /// decoded length and must be within 0..=that length; writes the first `count` bytes.
    pub fn write(
        &mut self,
        handle: i64,
        buf_b64: &str,
        count: Option<i64>,
    ) -> Result<GuestFileWrite, SysError> {
        let file = self.get(handle)?;
        let data = base64::decode(buf_b64)?;
        let count = match count {
            None => data.len(),
            Some(n) => match usize::try_from(n) {
                Ok(len) if len <= data.len() => len,
                _ => return Err(invalid_count(n)),
            },
        };
        write_file(file, &data[..count])
    }

    /// `guest-file-seek`: handle first, then `whence` (`invalid whence code <n>`), then
    /// [`seek_file`].
    pub fn seek(
        &mut self,
        handle: i64,
        offset: i64,
        whence: impl Into<WhenceArg>,
    ) -> Result<GuestFileSeek, SysError> {
        let file = self.get(handle)?;
        let whence = match whence.into() {
            WhenceArg::Code(code) => Whence::from_code(code)?,
            WhenceArg::Name(whence) => whence,
        };
        seek_file(file, offset, whence)
    }

    /// `guest-file-flush`: nothing is buffered, so this only checks the handle.
    pub fn flush(&mut self, handle: i64) -> Result<(), SysError> {
        self.get(handle).map(|_| ())
    }

    /// Whether `handle` is open.
    pub fn contains(&self, handle: i64) -> bool {
        self.files.contains_key(&handle)
    }

    /// Number of open handles.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether no handle is open.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    fn get(&self, handle: i64) -> Result<&File, SysError> {
        self.files.get(&handle).ok_or_else(|| not_found(handle))
    }
}

fn not_found(handle: i64) -> SysError {
    SysError::new(format!("handle '{handle}' has not been found"))
}

fn invalid_count(count: i64) -> SysError {
    SysError::new(format!("value '{count}' is invalid for argument count"))
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use nix::sys::stat::Mode;
    use nix::unistd::mkfifo;

    use super::*;

    struct Fixture {
        dir: tempfile::TempDir,
        table: FileTable,
        next: i64,
    }

    impl Fixture {
        fn new() -> Self {
            Fixture {
                dir: tempfile::tempdir().unwrap(),
                table: FileTable::new(),
                next: 1000,
            }
        }

        fn path(&self, name: &str) -> String {
            self.dir.path().join(name).to_str().unwrap().to_owned()
        }

        fn open(&mut self, name: &str, mode: Option<&str>) -> Result<i64, SysError> {
            let path = self.path(name);
            let next = &mut self.next;
            self.table.open(&path, mode, || {
                *next += 1;
                Ok(*next - 1)
            })
        }

        fn read(&mut self, handle: i64, count: Option<i64>) -> GuestFileRead {
            self.table.read(handle, count).unwrap()
        }

        fn write(&mut self, handle: i64, data: &[u8]) -> GuestFileWrite {
            self.table.write(handle, &encode(data), None).unwrap()
        }
    }

    fn read_result(data: &[u8], eof: bool) -> GuestFileRead {
        GuestFileRead {
            count: data.len() as i64,
            buf_b64: Base64Bytes(data.to_vec()),
            eof,
        }
    }

    fn encode(data: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in data.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[(v >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn mode_table_matches_qemu_ga() {
        let rd = OFlag::O_RDONLY;
        let rw = OFlag::O_RDWR;
        let wr = OFlag::O_WRONLY;
        let (c, t, a) = (OFlag::O_CREAT, OFlag::O_TRUNC, OFlag::O_APPEND);
        let table = [
            (None, rd),
            (Some("r"), rd),
            (Some("rb"), rd),
            (Some("w"), wr | c | t),
            (Some("wb"), wr | c | t),
            (Some("a"), wr | c | a),
            (Some("ab"), wr | c | a),
            (Some("r+"), rw),
            (Some("rb+"), rw),
            (Some("r+b"), rw),
            (Some("w+"), rw | c | t),
            (Some("wb+"), rw | c | t),
            (Some("w+b"), rw | c | t),
            (Some("a+"), rw | c | a),
            (Some("ab+"), rw | c | a),
            (Some("a+b"), rw | c | a),
        ];
        for (mode, flags) in table {
            assert_eq!(open_flags(mode).unwrap(), flags, "{mode:?}");
        }
        for bad in ["q", "", "rw", "R", "r+b+", "br"] {
            assert_eq!(
                open_flags(Some(bad)).unwrap_err().to_string(),
                format!("invalid file open mode '{bad}'")
            );
        }
    }

    #[test]
    fn handles_come_from_the_allocator_and_are_not_found_after_close() {
        let mut fx = Fixture::new();
        fs::write(fx.path("f"), b"x").unwrap();
        assert_eq!(fx.open("f", None).unwrap(), 1000);
        assert_eq!(fx.open("f", Some("r")).unwrap(), 1001);
        assert_eq!(fx.table.len(), 2);
        fx.table.close(1000).unwrap();
        assert!(!fx.table.contains(1000));
        let gone = "handle '1000' has not been found";
        assert_eq!(fx.table.close(1000).unwrap_err().to_string(), gone);
        assert_eq!(fx.table.read(1000, None).unwrap_err().to_string(), gone);
        assert_eq!(
            fx.table.write(1000, "", None).unwrap_err().to_string(),
            gone
        );
        assert_eq!(
            fx.table.seek(1000, 0, Whence::Set).unwrap_err().to_string(),
            gone
        );
        assert_eq!(fx.table.flush(1000).unwrap_err().to_string(), gone);
        // The handle is checked before the other arguments.
        assert_eq!(
            fx.table.read(-5, Some(-1)).unwrap_err().to_string(),
            "handle '-5' has not been found"
        );
        assert_eq!(
            fx.table.write(7, "!", Some(-1)).unwrap_err().to_string(),
            "handle '7' has not been found"
        );
        assert_eq!(
            fx.table
                .seek(7, 0, WhenceArg::Code(9))
                .unwrap_err()
                .to_string(),
            "handle '7' has not been found"
        );
    }

    #[test]
    fn allocator_failure_closes_the_file() {
        let mut fx = Fixture::new();
        let path = fx.path("new");
        let err = fx
            .table
            .open(&path, Some("w"), || {
                Err(SysError::new("failed to commit persistent state to disk"))
            })
            .unwrap_err();
        assert_eq!(err.to_string(), "failed to commit persistent state to disk");
        assert!(fx.table.is_empty());
    }

    #[test]
    fn open_errors_name_path_and_mode() {
        let mut fx = Fixture::new();
        let path = fx.path("missing");
        assert_eq!(
            fx.open("missing", None).unwrap_err().to_string(),
            format!("failed to open file '{path}' (mode: 'r'): No such file or directory")
        );
        assert_eq!(
            fx.open("missing", Some("r+b")).unwrap_err().to_string(),
            format!("failed to open file '{path}' (mode: 'r+b'): No such file or directory")
        );
        let inside = fx.path("missing/x");
        assert_eq!(
            fx.open("missing/x", Some("w")).unwrap_err().to_string(),
            format!("failed to open file '{inside}' (mode: 'w'): No such file or directory")
        );
        assert_eq!(
            fx.open("x", Some("z")).unwrap_err().to_string(),
            "invalid file open mode 'z'"
        );
    }

    #[test]
    fn new_files_get_0666_and_existing_files_keep_their_mode() {
        let mut fx = Fixture::new();
        let old = nix::sys::stat::umask(Mode::from_bits_truncate(0o077));
        let created = fx.open("new", Some("w"));
        nix::sys::stat::umask(old);
        created.unwrap();
        let mode = fs::metadata(fx.path("new")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o666);

        fs::write(fx.path("old"), b"content").unwrap();
        fs::set_permissions(fx.path("old"), fs::Permissions::from_mode(0o600)).unwrap();
        fx.open("old", Some("w+")).unwrap();
        let meta = fs::metadata(fx.path("old")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), 0, "w+ truncates");
    }

    #[test]
    fn read_reports_eof_like_fread() {
        let mut fx = Fixture::new();
        fs::write(fx.path("f"), b"guest\n").unwrap();
        let h = fx.open("f", None).unwrap();
        // Default count: short read at end of file sets EOF.
        assert_eq!(fx.read(h, None), read_result(b"guest\n", true));
        // EOF does not stick: a read at end of file reports it again with 0 bytes.
        assert_eq!(fx.read(h, Some(10)), read_result(b"", true));

        let h = fx.open("f", None).unwrap();
        // Exactly the remaining bytes: EOF not seen yet.
        assert_eq!(fx.read(h, Some(3)).buf_b64.0, b"gue");
        assert_eq!(fx.read(h, Some(3)), read_result(b"st\n", false));
        assert_eq!(fx.read(h, Some(3)), read_result(b"", true));
        // Count 0 reads nothing and reports no EOF.
        assert_eq!(fx.read(h, Some(0)), read_result(b"", false));
    }

    #[test]
    fn read_sees_data_appended_after_eof() {
        let mut fx = Fixture::new();
        fs::write(fx.path("f"), b"ab").unwrap();
        let h = fx.open("f", None).unwrap();
        assert!(fx.read(h, None).eof);
        fs::OpenOptions::new()
            .append(true)
            .open(fx.path("f"))
            .unwrap()
            .write_all(b"cd")
            .unwrap();
        assert_eq!(fx.read(h, None), read_result(b"cd", true));
    }

    #[test]
    fn read_count_is_validated() {
        let mut fx = Fixture::new();
        fs::write(fx.path("f"), b"x").unwrap();
        let h = fx.open("f", None).unwrap();
        for bad in [-1, MAX_READ_COUNT + 1, i64::MAX, i64::MIN] {
            assert_eq!(
                fx.table.read(h, Some(bad)).unwrap_err().to_string(),
                format!("value '{bad}' is invalid for argument count")
            );
        }
        assert_eq!(fx.read(h, Some(MAX_READ_COUNT)).buf_b64.0, b"x");
    }

    #[test]
    fn large_reads_return_everything_in_one_buffer() {
        let mut fx = Fixture::new();
        let content: Vec<u8> = (0..5 * 1024 * 1024 + 17).map(|i| (i % 251) as u8).collect();
        fs::write(fx.path("big"), &content).unwrap();
        let h = fx.open("big", None).unwrap();
        let first = fx.read(h, Some(1024 * 1024));
        assert_eq!(first.buf_b64.0, &content[..1024 * 1024]);
        assert!(!first.eof);
        let rest = fx.read(h, Some(MAX_READ_COUNT));
        assert_eq!(rest.buf_b64.0, &content[1024 * 1024..]);
        assert!(rest.eof);
    }

    #[test]
    fn read_errors_use_strerror() {
        let mut fx = Fixture::new();
        fs::create_dir(fx.path("d")).unwrap();
        let h = fx.open("d", None).unwrap();
        assert_eq!(
            fx.table.read(h, None).unwrap_err().to_string(),
            "failed to read file: Is a directory"
        );
        let h = fx.open("w", Some("w")).unwrap();
        assert_eq!(
            fx.table.read(h, None).unwrap_err().to_string(),
            "failed to read file: Bad file descriptor"
        );
    }

    #[test]
    fn fifo_reads_are_non_blocking() {
        let mut fx = Fixture::new();
        mkfifo(fx.path("fifo").as_str(), Mode::from_bits_truncate(0o600)).unwrap();
        let h = fx.open("fifo", None).unwrap();
        // No writer yet: the kernel reports end of file.
        assert_eq!(fx.read(h, None), read_result(b"", true));
        let mut writer = fs::OpenOptions::new()
            .write(true)
            .open(fx.path("fifo"))
            .unwrap();
        // A writer but no data: EAGAIN is an error, as in stdio.
        assert_eq!(
            fx.table.read(h, None).unwrap_err().to_string(),
            "failed to read file: Resource temporarily unavailable"
        );
        writer.write_all(b"ping").unwrap();
        // Data, then EAGAIN: the data is returned, not lost.
        assert_eq!(fx.read(h, None), read_result(b"ping", false));
        writer.write_all(b"!").unwrap();
        drop(writer);
        assert_eq!(fx.read(h, None), read_result(b"!", true));
        assert_eq!(
            fx.table.seek(h, 0, Whence::Cur).unwrap_err().to_string(),
            "failed to seek file: Illegal seek"
        );
    }

    #[test]
    fn write_decodes_and_honours_count() {
        let mut fx = Fixture::new();
        let h = fx.open("f", Some("w")).unwrap();
        assert_eq!(
            fx.write(h, b"hello"),
            GuestFileWrite {
                count: 5,
                eof: false
            }
        );
        let partial = fx.table.write(h, &encode(b" world"), Some(3)).unwrap();
        assert_eq!(partial.count, 3);
        assert_eq!(fx.table.write(h, "", None).unwrap().count, 0);
        // Visible at once: nothing is buffered in the agent.
        assert_eq!(fs::read(fx.path("f")).unwrap(), b"hello wo");
        for bad in [-1, 7] {
            assert_eq!(
                fx.table
                    .write(h, &encode(b"123456"), Some(bad))
                    .unwrap_err()
                    .to_string(),
                format!("value '{bad}' is invalid for argument count")
            );
        }
        assert_eq!(
            fx.table.write(h, "aGk=!", None).unwrap_err().to_string(),
            "Base64 data contains invalid characters"
        );
        fx.table.flush(h).unwrap();
        fx.table.close(h).unwrap();
    }

    #[test]
    fn write_to_read_only_handle_fails() {
        let mut fx = Fixture::new();
        fs::write(fx.path("f"), b"x").unwrap();
        let h = fx.open("f", None).unwrap();
        assert_eq!(
            fx.table.write(h, "aGk=", None).unwrap_err().to_string(),
            "failed to write to file: Bad file descriptor"
        );
    }

    #[test]
    fn append_mode_writes_at_the_end_and_reads_from_the_start() {
        let mut fx = Fixture::new();
        fs::write(fx.path("f"), b"abc").unwrap();
        let h = fx.open("f", Some("a+")).unwrap();
        assert_eq!(fx.table.seek(h, 0, Whence::Cur).unwrap().position, 0);
        fx.write(h, b"de");
        assert_eq!(fx.table.seek(h, 0, Whence::Cur).unwrap().position, 5);
        fx.table.seek(h, 1, Whence::Set).unwrap();
        assert_eq!(fx.read(h, Some(2)).buf_b64.0, b"bc");
        fx.write(h, b"f");
        assert_eq!(fs::read(fx.path("f")).unwrap(), b"abcdef");
    }

    #[test]
    fn seek_reports_position_and_switches_between_read_and_write() {
        let mut fx = Fixture::new();
        fs::write(fx.path("f"), b"0123456789").unwrap();
        let h = fx.open("f", Some("r+")).unwrap();
        assert_eq!(
            fx.table.seek(h, -3, Whence::End).unwrap(),
            GuestFileSeek {
                position: 7,
                eof: false
            }
        );
        assert_eq!(fx.read(h, Some(2)).buf_b64.0, b"78");
        fx.write(h, b"X");
        assert_eq!(fx.table.seek(h, -2, Whence::Cur).unwrap().position, 8);
        assert_eq!(fx.read(h, None).buf_b64.0, b"8X");
        assert_eq!(fx.table.seek(h, 2, Whence::Set).unwrap().position, 2);
        fx.write(h, b"YZ");
        assert_eq!(fx.read(h, Some(1)).buf_b64.0, b"4");
        assert_eq!(fs::read(fx.path("f")).unwrap(), b"01YZ45678X");
        // Past the end is allowed, before the start is not.
        assert_eq!(fx.table.seek(h, 100, Whence::Set).unwrap().position, 100);
        assert_eq!(
            fx.table.seek(h, -1, Whence::Set).unwrap_err().to_string(),
            "failed to seek file: Invalid argument"
        );
        assert_eq!(
            fx.table.seek(h, -200, Whence::Cur).unwrap_err().to_string(),
            "failed to seek file: Invalid argument"
        );
    }

    #[test]
    fn whence_codes() {
        let mut fx = Fixture::new();
        fs::write(fx.path("f"), b"0123").unwrap();
        let h = fx.open("f", None).unwrap();
        assert_eq!(
            fx.table.seek(h, -1, WhenceArg::Code(2)).unwrap().position,
            3
        );
        assert_eq!(
            fx.table
                .seek(h, 0, WhenceArg::Code(3))
                .unwrap_err()
                .to_string(),
            "invalid whence code 3"
        );
        assert_eq!(Whence::from_code(0).unwrap(), Whence::Set);
        assert_eq!(Whence::from_code(1).unwrap(), Whence::Cur);
        assert_eq!(Whence::from_code(2).unwrap(), Whence::End);
        assert_eq!(
            Whence::from_code(3).unwrap_err().to_string(),
            "invalid whence code 3"
        );
        assert_eq!(
            Whence::from_code(-1).unwrap_err().to_string(),
            "invalid whence code -1"
        );
    }
}
