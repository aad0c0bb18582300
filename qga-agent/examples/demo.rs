//! `cargo xtask demo` (which builds qga-agent and runs this example with its path): starts the
//! agent on a unix socket in a temporary directory, and runs a session with the generated typed client (`qga_types::Client`): handshake,
//! agent info, OS, time, host name, time zone, a file round trip and the load average.
//! Needs nothing but Rust: no VM, no qemu-ga.

use anyhow::{bail, Context, Result};
use qga_types::qapi_runtime::base64;
use qga_types::{
    Client, GuestFileCloseArgs, GuestFileOpenArgs, GuestFileReadArgs, GuestFileSeekArgs,
    GuestFileWhence, GuestFileWriteArgs, QgaSeek,
};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The agent binary: the first argument, or `qga-agent` beside the examples directory.
fn agent_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::args_os().nth(1) {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe().context("locating the demo binary")?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("no target directory")?;
    let binary = profile_dir.join("qga-agent");
    if !binary.is_file() {
        bail!(
            "{} not found: build it first (`cargo build -p qga-agent`) or pass its path",
            binary.display()
        );
    }
    Ok(binary)
}

fn run() -> Result<()> {
    let binary = agent_binary()?;

    let dir = std::env::temp_dir().join(format!("qga-demo-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("state"))
        .with_context(|| format!("creating {}", dir.display()))?;
    let result = session(&binary, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// The agent process; killed if the demo fails half-way.
struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn session(binary: &Path, dir: &Path) -> Result<()> {
    let socket = dir.join("qga.sock");
    let mut agent = Agent(
        Command::new(binary)
            .args(["-m", "unix-listen", "-p"])
            .arg(&socket)
            .arg("-t")
            .arg(dir.join("state"))
            // Keep a system-wide /etc/qemu/qemu-ga.conf out of the demo.
            .env("QGA_CONF", dir.join("none.conf"))
            .stdin(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?,
    );
    show(
        "started",
        &format!(
            "{} -m unix-listen -p {}",
            binary.display(),
            socket.display()
        ),
    );
    let stream = connect(&socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut client = Client::new(stream);

    client
        .connection()
        .guest_agent_handshake()
        .context("handshake")?;
    show("handshake", "0xFF + guest-sync-delimited: in sync");

    let info = client.guest_info()?;
    let enabled = info.supported_commands.iter().filter(|c| c.enabled).count();
    show(
        "guest-info",
        &format!(
            "version {}, {} commands ({enabled} enabled)",
            info.version,
            info.supported_commands.len()
        ),
    );

    let os = client.guest_get_osinfo()?;
    show(
        "guest-get-osinfo",
        &format!(
            "{} | kernel {} | {}",
            os.pretty_name
                .or(os.name)
                .unwrap_or_else(|| "(unknown OS)".into()),
            os.kernel_release.unwrap_or_default(),
            os.machine.unwrap_or_default()
        ),
    );

    let ns = client.guest_get_time()?;
    show(
        "guest-get-time",
        &format!("{} ({ns} ns since the epoch)", utc_text(ns)),
    );

    let host = client.guest_get_host_name()?;
    show("guest-get-host-name", &host.host_name);

    let tz = client.guest_get_timezone()?;
    let sign = if tz.offset < 0 { '-' } else { '+' };
    let off = tz.offset.abs();
    show(
        "guest-get-timezone",
        &format!(
            "{} (UTC{sign}{:02}:{:02})",
            tz.zone.unwrap_or_else(|| "?".into()),
            off / 3600,
            off % 3600 / 60
        ),
    );

    let path = dir.join("demo.txt");
    let message = "Hello from the typed qga client!\n";
    let handle = client.guest_file_open(&GuestFileOpenArgs {
        path: path.display().to_string(),
        mode: Some("w+".into()),
    })?;
    let written = client.guest_file_write(&GuestFileWriteArgs {
        handle,
        buf_b64: base64::encode(message.as_bytes()),
        count: None,
    })?;
    client.guest_file_seek(&GuestFileSeekArgs {
        handle,
        offset: 0,
        whence: GuestFileWhence::Name(QgaSeek::Set),
    })?;
    let read = client.guest_file_read(&GuestFileReadArgs {
        handle,
        count: Some(4096),
    })?;
    client.guest_file_close(&GuestFileCloseArgs { handle })?;
    let back = String::from_utf8_lossy(&read.buf_b64);
    show(
        "guest-file-*",
        &format!(
            "handle {handle}: wrote {} bytes, read back {} (eof {}): {back:?}",
            written.count, read.count, read.eof
        ),
    );
    if back != message {
        bail!("file round trip returned {back:?}");
    }

    let load = client.guest_get_load()?;
    show(
        "guest-get-load",
        &format!(
            "{:.2} {:.2} {:.2} (1, 5, 15 minutes)",
            load.load1m, load.load5m, load.load15m
        ),
    );

    // A clean stop: SIGTERM, exit status 0.
    let pid = agent.0.id().to_string();
    Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .context("sending SIGTERM")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = agent.0.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            bail!("the agent did not stop after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if !status.success() {
        bail!("the agent exited with {status}");
    }
    show("stopped", "SIGTERM -> exit status 0");
    Ok(())
}

/// Prints one step of the session.
fn show(label: &str, text: &str) {
    println!("{label:<20} {text}");
}

fn connect(socket: &Path) -> Result<UnixStream> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match UnixStream::connect(socket) {
            Ok(stream) => return Ok(stream),
            Err(e) if Instant::now() > deadline => {
                return Err(e).with_context(|| format!("connecting to {}", socket.display()))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS.mmm UTC` for nanoseconds since the epoch.
fn utc_text(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let millis = ns.rem_euclid(1_000_000_000) / 1_000_000;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{millis:03} UTC",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::utc_text;

    #[test]
    fn dates() {
        assert_eq!(utc_text(0), "1970-01-01 00:00:00.000 UTC");
        assert_eq!(
            utc_text(951_782_400_123_000_000),
            "2000-02-29 00:00:00.123 UTC"
        );
        assert_eq!(
            utc_text(1_700_000_000_000_000_000),
            "2023-11-14 22:13:20.000 UTC"
        );
    }
}
