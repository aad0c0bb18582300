//! One background thread that watches every child of `guest-exec` with a single `poll(2)`:
//! it drains captured stdout/stderr, feeds `input-data` without blocking, and reaps each child
//! as it exits (through a pidfd in the same poll set), keeping its status until the client
//! asks. Tasks per exec: the child alone, however many execs run at once.
//!
//! The watcher and the agent thread share [`State`] under a mutex. File descriptors are closed
//! only by the watcher (or before a record is handed to it), so a descriptor it polls without
//! the lock is never closed and reused under it.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::MAX_OUTPUT;

/// How often children without a pidfd (kernel before 5.3, no descriptor left) are polled.
const FALLBACK_TICK: Duration = Duration::from_millis(100);
/// Bytes read from a pipe at a time.
const CHUNK: usize = 64 * 1024;
/// Most reads from one pipe per round, so one chatty child cannot starve the others.
const READS_PER_ROUND: usize = 16;

/// A captured stream: the pipe until end of file, and what was kept of it.
#[derive(Debug, Default)]
pub(super) struct Stream {
    pub pipe: Option<OwnedFd>,
    pub data: Vec<u8>,
    pub truncated: bool,
}

/// `input-data` still to be written to a child's stdin.
#[derive(Debug)]
pub(super) struct Feeder {
    pub pipe: OwnedFd,
    pub data: Vec<u8>,
    pub written: usize,
}

/// One child of `guest-exec`.
#[derive(Debug)]
pub(super) struct Record {
    pub pid: i64,
    /// Readable once the child exited; dropped when it is reaped.
    pub pidfd: Option<OwnedFd>,
    /// `(exitcode, signal)` once reaped.
    pub status: Option<(Option<i64>, Option<i64>)>,
    pub out: Option<Stream>,
    pub err: Option<Stream>,
    pub input: Option<Feeder>,
}

impl Record {
    /// Reaped, and every captured stream reached end of file.
    pub fn finished(&self) -> bool {
        let closed = |s: &Option<Stream>| s.as_ref().is_none_or(|s| s.pipe.is_none());
        self.status.is_some() && closed(&self.out) && closed(&self.err)
    }
}

/// Everything the watcher and the agent thread share.
#[derive(Debug, Default)]
pub(super) struct State {
    /// Children by start order (qemu-ga reports the oldest of two with the same pid).
    pub records: BTreeMap<u64, Record>,
    pub next_serial: u64,
    /// Input still being fed to children whose status was already reported.
    pub orphans: Vec<Feeder>,
    /// Bytes held for captured output (capacity) and input not yet written.
    pub held: usize,
    /// Bound on `held`; 0 means none.
    pub limit: usize,
    stop: bool,
}

impl State {
    /// Room left under the memory bound.
    fn room(&self) -> usize {
        match self.limit {
            0 => usize::MAX,
            limit => limit.saturating_sub(self.held),
        }
    }

    /// Accounts for a stream's buffer growing or being handed out.
    fn account(&mut self, before: usize, after: usize) {
        self.held = (self.held + after).saturating_sub(before);
    }
}

#[derive(Debug)]
pub(super) struct Shared {
    state: Mutex<State>,
    wake_read: OwnedFd,
    wake_write: OwnedFd,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes the watcher look at the records again (a new child, a stop).
    pub fn wake(&self) {
        let _ = nix::unistd::write(&self.wake_write, &[1]);
    }
}

/// The watcher thread and the state it shares.
#[derive(Debug)]
pub(super) struct Watcher {
    pub shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Shared state with `limit` bytes for captured output and input (0: unbounded). The
    /// thread starts with the first exec ([`Watcher::ensure_running`]): after the agent has
    /// daemonized, since `fork` keeps only the calling thread.
    pub fn new(limit: usize) -> io::Result<Watcher> {
        let (wake_read, wake_write) = nonblocking_pipe()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                limit,
                ..State::default()
            }),
            wake_read,
            wake_write,
        });
        Ok(Watcher {
            shared,
            thread: None,
        })
    }

    /// Starts the thread if it is not running (never started, or ended by a panic).
    pub fn ensure_running(&mut self) -> io::Result<()> {
        if self.thread.as_ref().is_some_and(|t| !t.is_finished()) {
            return Ok(());
        }
        let shared = Arc::clone(&self.shared);
        let thread = with_signals_blocked(|| {
            std::thread::Builder::new()
                .name("exec-watcher".to_owned())
                .stack_size(256 * 1024)
                .spawn(move || run(&shared))
        })?;
        self.thread = Some(thread);
        Ok(())
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A pipe whose read end (first) is non-blocking, both ends close-on-exec.
fn nonblocking_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
    Ok((read, write))
}

/// Makes our end of a pipe to a child non-blocking (the child's end stays blocking).
pub(super) fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    let flags = OFlag::from_bits_retain(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// A pidfd for `pid` (Linux 5.3+); `None` when the kernel or the fd limit refuses one, and the
/// watcher then polls that child with `waitpid(WNOHANG)` every [`FALLBACK_TICK`].
pub(super) fn pidfd_open(pid: i64) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    let fd = RawFd::try_from(fd).ok().filter(|&fd| fd >= 0)?;
    // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Runs `f` with SIGTERM, SIGINT and SIGALRM blocked, so a thread it starts leaves those
/// signals to the agent thread (whose blocking calls they must interrupt).
fn with_signals_blocked<R>(f: impl FnOnce() -> R) -> R {
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGINT);
    set.add(Signal::SIGALRM);
    let mut old = SigSet::empty();
    let blocked = pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), Some(&mut old)).is_ok();
    let result = f();
    if blocked {
        let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    }
    result
}

/// What a polled descriptor belongs to.
#[derive(Debug, Clone, Copy)]
enum Target {
    Wake,
    Exit(u64),
    Out(u64),
    Err(u64),
    Input(u64),
    Orphan(usize),
}

/// The watcher's loop: build the poll set under the lock, poll without it, handle events.
fn run(shared: &Shared) {
    let mut buf = vec![0u8; CHUNK];
    let mut fds: Vec<libc::pollfd> = Vec::new();
    let mut targets: Vec<Target> = Vec::new();
    loop {
        let tick = {
            let state = shared.lock();
            if state.stop {
                return;
            }
            fds.clear();
            targets.clear();
            let mut add = |fd: RawFd, events: libc::c_short, target| {
                fds.push(libc::pollfd {
                    fd,
                    events,
                    revents: 0,
                });
                targets.push(target);
            };
            add(shared.wake_read.as_raw_fd(), libc::POLLIN, Target::Wake);
            let mut tick = false;
            for (&serial, record) in &state.records {
                match (&record.pidfd, record.status) {
                    (Some(pidfd), None) => {
                        add(pidfd.as_raw_fd(), libc::POLLIN, Target::Exit(serial))
                    }
                    (None, None) => tick = true,
                    _ => {}
                }
                fn pipe(s: &Option<Stream>) -> Option<&OwnedFd> {
                    s.as_ref().and_then(|s| s.pipe.as_ref())
                }
                if let Some(pipe) = pipe(&record.out) {
                    add(pipe.as_raw_fd(), libc::POLLIN, Target::Out(serial));
                }
                if let Some(pipe) = pipe(&record.err) {
                    add(pipe.as_raw_fd(), libc::POLLIN, Target::Err(serial));
                }
                if let Some(input) = &record.input {
                    add(input.pipe.as_raw_fd(), libc::POLLOUT, Target::Input(serial));
                }
            }
            for (i, orphan) in state.orphans.iter().enumerate() {
                add(orphan.pipe.as_raw_fd(), libc::POLLOUT, Target::Orphan(i));
            }
            tick
        };
        let timeout = if tick {
            FALLBACK_TICK.as_millis() as libc::c_int
        } else {
            -1
        };
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd structures; the descriptors
        // stay open while we poll, as only this thread closes them.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if ready < 0 && Errno::last() != Errno::EINTR {
            // Out of memory for the poll set: try again shortly rather than spin.
            std::thread::sleep(FALLBACK_TICK);
        }
        let mut state = shared.lock();
        let state = &mut *state;
        let mut orphans_done = Vec::new();
        for (pollfd, &target) in fds.iter().zip(&targets) {
            if pollfd.revents == 0 {
                continue;
            }
            match target {
                Target::Wake => {
                    while nix::unistd::read(&shared.wake_read, &mut buf).is_ok_and(|n| n > 0) {}
                }
                Target::Exit(serial) => {
                    if let Some(record) = state.records.get_mut(&serial) {
                        reap(record);
                    }
                }
                Target::Out(serial) | Target::Err(serial) => {
                    let is_out = matches!(target, Target::Out(_));
                    let limit_room = state.room();
                    let Some(record) = state.records.get_mut(&serial) else {
                        continue;
                    };
                    let stream = if is_out {
                        &mut record.out
                    } else {
                        &mut record.err
                    };
                    if let Some(stream) = stream {
                        let before = stream.data.capacity();
                        drain(stream, &mut buf, limit_room);
                        let after = stream.data.capacity();
                        state.account(before, after);
                    }
                }
                Target::Input(serial) => {
                    let Some(record) = state.records.get_mut(&serial) else {
                        continue;
                    };
                    if let Some(feeder) = &mut record.input {
                        if let Some(freed) = feed(feeder) {
                            record.input = None;
                            state.account(freed, 0);
                        }
                    }
                }
                Target::Orphan(i) => {
                    if let Some(feeder) = state.orphans.get_mut(i) {
                        if let Some(freed) = feed(feeder) {
                            orphans_done.push(i);
                            state.account(freed, 0);
                        }
                    }
                }
            }
        }
        for i in orphans_done.into_iter().rev() {
            state.orphans.swap_remove(i);
        }
        if tick {
            for record in state.records.values_mut() {
                if record.pidfd.is_none() && record.status.is_none() {
                    reap(record);
                }
            }
        }
    }
}

/// Collects the child's status if it exited, closing its pidfd.
fn reap(record: &mut Record) {
    let pid = Pid::from_raw(record.pid as libc::pid_t);
    let status = match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::Exited(_, code)) => (Some(i64::from(code)), None),
        Ok(WaitStatus::Signaled(_, signal, _)) => (None, Some(signal as i64)),
        Ok(_) => return,
        // Already reaped elsewhere (never by this agent): report it as exited.
        Err(Errno::ECHILD) => (None, None),
        Err(_) => return,
    };
    record.status = Some(status);
    record.pidfd = None;
}

/// Reads what a pipe has, keeping what fits under [`MAX_OUTPUT`] and the memory bound
/// (`limit_room` bytes beyond the buffer's current capacity); closes it at end of file.
fn drain(stream: &mut Stream, buf: &mut [u8], limit_room: usize) {
    let Some(pipe) = &stream.pipe else {
        return;
    };
    let mut room = limit_room;
    for _ in 0..READS_PER_ROUND {
        match nix::unistd::read(pipe, buf) {
            Ok(0) => {
                stream.pipe = None;
                return;
            }
            Ok(n) => {
                let spare = stream.data.capacity() - stream.data.len();
                let allowed = (MAX_OUTPUT - stream.data.len()).min(spare.saturating_add(room));
                let keep = n.min(allowed);
                if keep < n {
                    stream.truncated = true;
                }
                if keep > spare {
                    // Grow at most to what the bounds allow, so capacity is what is held.
                    let len = stream.data.len();
                    let wanted = (len * 2).max(len + keep).min(len + allowed);
                    let before = stream.data.capacity();
                    stream.data.reserve_exact(wanted - len);
                    room = room.saturating_sub(stream.data.capacity() - before);
                }
                stream.data.extend_from_slice(&buf[..keep]);
            }
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => return,
            Err(_) => {
                stream.pipe = None;
                return;
            }
        }
    }
}

/// Writes what the pipe takes; `Some(bytes freed)` once all is written or the child stopped
/// reading (the pipe is then closed, so the child sees end of file).
fn feed(feeder: &mut Feeder) -> Option<usize> {
    loop {
        match nix::unistd::write(&feeder.pipe, &feeder.data[feeder.written..]) {
            Ok(n) => {
                feeder.written += n;
                if feeder.written == feeder.data.len() {
                    break;
                }
            }
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => return None,
            Err(_) => break,
        }
    }
    let freed = feeder.data.capacity();
    feeder.data = Vec::new();
    Some(freed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_without_a_pidfd_are_reaped_by_polling() {
        // Reaped below by pid, as the agent does.
        let pid = std::process::Command::new("sh")
            .args(["-c", "exit 7"])
            .spawn()
            .unwrap()
            .id();
        let mut record = Record {
            pid: i64::from(pid),
            pidfd: None,
            status: None,
            out: None,
            err: None,
            input: None,
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while record.status.is_none() {
            assert!(std::time::Instant::now() < deadline, "never reaped");
            std::thread::sleep(Duration::from_millis(10));
            reap(&mut record);
        }
        assert_eq!(record.status, Some((Some(7), None)));
        assert!(record.finished());
    }

    #[test]
    fn pidfds_are_available() {
        // Linux 5.3+; without them the agent still works, polling every 100 ms.
        let pid = i64::from(std::process::Command::new("true").spawn().unwrap().id());
        let pidfd = pidfd_open(pid);
        let mut record = Record {
            pid,
            pidfd,
            status: None,
            out: None,
            err: None,
            input: None,
        };
        if let Some(fd) = &record.pidfd {
            let mut fds = [libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            }];
            // SAFETY: one valid pollfd.
            let ready = unsafe { libc::poll(fds.as_mut_ptr(), 1, 10_000) };
            assert_eq!(ready, 1, "the pidfd reports the exit");
        }
        while record.status.is_none() {
            std::thread::sleep(Duration::from_millis(10));
            reap(&mut record);
        }
        assert!(record.pidfd.is_none());
        assert_eq!(record.status, Some((Some(0), None)));
    }
}
