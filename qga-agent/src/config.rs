//! qemu-ga's command line and configuration file: the same options (GNU getopt rules: clustered
//! short options, `--long=value`, unambiguous prefixes of long names), the `[general]` keys of
//! the key file, `QGA_CONF`, and the `--dump-conf` output.

use crate::keyfile::{self, KeyFile};

/// The version qemu-ga reports; clients compare it, so it is qemu-ga's.
pub const QGA_VERSION: &str = "10.0.2";
pub const DEFAULT_CONFIG: &str = "/etc/qemu/qemu-ga.conf";
pub const DEFAULT_PIDFILE: &str = "/var/run/qemu-ga.pid";
pub const DEFAULT_STATEDIR: &str = "/var/run";
pub const DEFAULT_FSFREEZE_HOOK: &str = "/etc/qemu/fsfreeze-hook";
pub const DEFAULT_VIRTIO_PATH: &str = "/dev/virtio-ports/org.qemu.guest_agent.0";
pub const DEFAULT_ISA_PATH: &str = "/dev/ttyS0";
pub const DEFAULT_EXEC_MEMORY_LIMIT: usize = crate::sys::exec::DEFAULT_MEMORY_LIMIT;

/// The internal letter of `--exec-memory-limit`, which has no short form.
const EXEC_MEMORY_LIMIT: char = '\u{1}';

/// The effective configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub daemonize: bool,
    pub method: String,
    pub path: Option<String>,
    pub log_file: Option<String>,
    pub pid_file: String,
    pub fsfreeze_hook: Option<String>,
    pub state_dir: String,
    pub verbose: bool,
    pub retry_path: bool,
    /// Command names to disable (in qemu-ga's list order, see [`split_list`]).
    pub block_rpcs: Vec<String>,
    /// If not empty, only these commands are enabled.
    pub allow_rpcs: Vec<String>,
    pub dump_conf: bool,
    /// Bytes of captured exec output and pending input held at most (0: no bound); an
    /// extension, `--exec-memory-limit` / `exec-memory-limit`.
    pub exec_memory_limit: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            daemonize: false,
            method: "virtio-serial".to_owned(),
            path: None,
            log_file: None,
            pid_file: DEFAULT_PIDFILE.to_owned(),
            fsfreeze_hook: None,
            state_dir: DEFAULT_STATEDIR.to_owned(),
            verbose: false,
            retry_path: false,
            block_rpcs: Vec::new(),
            allow_rpcs: Vec::new(),
            dump_conf: false,
            exec_memory_limit: DEFAULT_EXEC_MEMORY_LIMIT,
        }
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Run the agent.
    Run(Config),
    /// Print `stdout` and `stderr` and exit with `code` (help, version, lists, errors).
    Exit {
        stdout: String,
        stderr: String,
        code: i32,
    },
}

impl Outcome {
    fn exit(stdout: String, stderr: String, code: i32) -> Outcome {
        Outcome::Exit {
            stdout,
            stderr,
            code,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HasArg {
    No,
    Required,
    Optional,
}

/// The long options in qemu-ga's table order (which ambiguity messages follow).
const LONG_OPTIONS: &[(&str, HasArg, char)] = &[
    ("help", HasArg::No, 'h'),
    ("version", HasArg::No, 'V'),
    ("config", HasArg::Required, 'c'),
    ("dump-conf", HasArg::No, 'D'),
    ("logfile", HasArg::Required, 'l'),
    ("pidfile", HasArg::Required, 'f'),
    ("fsfreeze-hook", HasArg::Optional, 'F'),
    ("verbose", HasArg::No, 'v'),
    ("method", HasArg::Required, 'm'),
    ("path", HasArg::Required, 'p'),
    ("daemonize", HasArg::No, 'd'),
    ("block-rpcs", HasArg::Required, 'b'),
    ("allow-rpcs", HasArg::Required, 'a'),
    ("statedir", HasArg::Required, 't'),
    ("retry-path", HasArg::No, 'r'),
    ("exec-memory-limit", HasArg::Required, EXEC_MEMORY_LIMIT),
];

/// Short options; `-s` (a Windows service option) is accepted and ignored, as by qemu-ga.
fn short_option(c: char) -> Option<HasArg> {
    match c {
        'h' | 'V' | 'v' | 'd' | 'D' | 'r' => Some(HasArg::No),
        'c' | 'm' | 'p' | 'l' | 'f' | 'b' | 'a' | 's' | 't' => Some(HasArg::Required),
        'F' => Some(HasArg::Optional),
        _ => None,
    }
}

/// One option occurrence, or the complaint getopt prints for a bad one.
type Opt = Result<(char, Option<String>), String>;

/// Splits the arguments into options as GNU `getopt_long` does (non-options are skipped).
fn getopt(argv0: &str, args: &[String]) -> Vec<Opt> {
    let mut opts = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value.to_owned())),
                None => (long, None),
            };
            let exact = LONG_OPTIONS.iter().find(|(n, _, _)| *n == name);
            let candidates: Vec<_> = LONG_OPTIONS
                .iter()
                .filter(|(n, _, _)| n.starts_with(name))
                .collect();
            let option = match (exact, candidates.as_slice()) {
                (Some(option), _) => option,
                (None, [option]) => option,
                (None, []) => {
                    opts.push(Err(format!("{argv0}: unrecognized option '{arg}'")));
                    continue;
                }
                (None, many) => {
                    let names: Vec<String> =
                        many.iter().map(|(n, _, _)| format!("'--{n}'")).collect();
                    opts.push(Err(format!(
                        "{argv0}: option '--{name}' is ambiguous; possibilities: {}",
                        names.join(" ")
                    )));
                    continue;
                }
            };
            let (full, has_arg, letter) = *option;
            match (has_arg, value) {
                (HasArg::No, Some(_)) => opts.push(Err(format!(
                    "{argv0}: option '--{full}' doesn't allow an argument"
                ))),
                (HasArg::Required, None) => match args.get(i) {
                    Some(next) => {
                        i += 1;
                        opts.push(Ok((letter, Some(next.clone()))));
                    }
                    None => opts.push(Err(format!(
                        "{argv0}: option '--{full}' requires an argument"
                    ))),
                },
                (_, value) => opts.push(Ok((letter, value))),
            }
            continue;
        }
        let Some(cluster) = arg.strip_prefix('-').filter(|c| !c.is_empty()) else {
            continue;
        };
        for (pos, c) in cluster.char_indices() {
            let rest = &cluster[pos + c.len_utf8()..];
            match short_option(c) {
                None => opts.push(Err(format!("{argv0}: invalid option -- '{c}'"))),
                Some(HasArg::No) => opts.push(Ok((c, None))),
                Some(HasArg::Optional) => {
                    opts.push(Ok((c, (!rest.is_empty()).then(|| rest.to_owned()))));
                    break;
                }
                Some(HasArg::Required) => {
                    if !rest.is_empty() {
                        opts.push(Ok((c, Some(rest.to_owned()))));
                    } else if let Some(next) = args.get(i) {
                        i += 1;
                        opts.push(Ok((c, Some(next.clone()))));
                    } else {
                        opts.push(Err(format!(
                            "{argv0}: option requires an argument -- '{c}'"
                        )));
                    }
                    break;
                }
            }
        }
    }
    opts
}

/// Splits a comma-separated list the way qemu-ga does: every item is kept (empty ones too),
/// and the items of one list come out in reverse order.
pub fn split_list(text: &str) -> Vec<String> {
    if text.is_empty() {
        return Vec::new();
    }
    text.split(',').rev().map(str::to_owned).collect()
}

fn is_help(text: &str) -> bool {
    text == "help" || text == "?"
}

/// Parses the command line. `args` excludes `argv[0]`; `qga_conf` is `$QGA_CONF`; `commands`
/// are all command names in registration order (for `--block-rpcs=help`); `read_file` reads
/// the configuration file (injected for tests).
pub fn parse(
    argv0: &str,
    args: &[String],
    qga_conf: Option<&str>,
    commands: &[&str],
    read_file: &dyn Fn(&str) -> std::io::Result<String>,
) -> Outcome {
    let opts = getopt(argv0, args);
    let explicit = opts.iter().rev().find_map(|o| match o {
        Ok(('c', Some(path))) => Some(path.clone()),
        _ => None,
    });
    let mut config = Config::default();
    let conf_path = explicit
        .clone()
        .or_else(|| qga_conf.map(str::to_owned))
        .unwrap_or_else(|| DEFAULT_CONFIG.to_owned());
    if let Err(message) = load_file(&mut config, &conf_path, explicit.is_some(), read_file) {
        return Outcome::exit(
            String::new(),
            format!("error loading configuration from path: {conf_path}, {message}\n"),
            1,
        );
    }
    for opt in opts {
        let (letter, value) = match opt {
            Ok(opt) => opt,
            Err(complaint) => {
                return Outcome::exit(
                    format!("Unknown option, try '{argv0} --help' for more information.\n"),
                    format!("{complaint}\n"),
                    1,
                )
            }
        };
        let value = value.unwrap_or_default();
        match letter {
            'm' => config.method = value,
            'p' => config.path = Some(value),
            'l' => config.log_file = Some(value),
            'f' => config.pid_file = value,
            'F' => {
                config.fsfreeze_hook = Some(if value.is_empty() {
                    DEFAULT_FSFREEZE_HOOK.to_owned()
                } else {
                    value
                })
            }
            't' => config.state_dir = value,
            'v' => config.verbose = true,
            'V' => {
                return Outcome::exit(
                    format!("QEMU Guest Agent {QGA_VERSION}\n"),
                    String::new(),
                    0,
                )
            }
            'd' => config.daemonize = true,
            'D' => config.dump_conf = true,
            'r' => config.retry_path = true,
            'b' | 'a' if is_help(&value) => {
                let list: String = commands.iter().map(|c| format!("{c}\n")).collect();
                return Outcome::exit(list, String::new(), 0);
            }
            'b' => config.block_rpcs.extend(split_list(&value)),
            'a' => config.allow_rpcs.extend(split_list(&value)),
            'h' => return Outcome::exit(usage(argv0), String::new(), 0),
            EXEC_MEMORY_LIMIT => match parse_size(&value) {
                Ok(limit) => config.exec_memory_limit = limit,
                Err(message) => {
                    return Outcome::exit(String::new(), format!("{argv0}: {message}\n"), 1)
                }
            },
            _ => {} // -c was handled above; -s means nothing on Linux.
        }
    }
    if config.path.is_none() {
        config.path = match config.method.as_str() {
            "virtio-serial" => Some(DEFAULT_VIRTIO_PATH.to_owned()),
            "isa-serial" => Some(DEFAULT_ISA_PATH.to_owned()),
            _ => None,
        };
    }
    Outcome::Run(config)
}

/// Applies the `[general]` group of the configuration file at `path`.
fn load_file(
    config: &mut Config,
    path: &str,
    required: bool,
    read_file: &dyn Fn(&str) -> std::io::Result<String>,
) -> Result<(), String> {
    let text = match read_file(path) {
        Ok(text) => text,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(crate::sys::error::io_strerror(&e)),
    };
    let file = KeyFile::parse(&text)?;
    let string = |key: &str| file.get("general", key).map(str::to_owned);
    if let Some(daemon) = file.get_bool("general", "daemon")? {
        config.daemonize = daemon;
    }
    if let Some(method) = string("method") {
        config.method = method;
    }
    config.path = string("path").or(config.path.take());
    config.log_file = string("logfile").or(config.log_file.take());
    if let Some(pid_file) = string("pidfile") {
        config.pid_file = pid_file;
    }
    config.fsfreeze_hook = string("fsfreeze-hook").or(config.fsfreeze_hook.take());
    if let Some(state_dir) = string("statedir") {
        config.state_dir = state_dir;
    }
    if file.get_bool("general", "verbose")? == Some(true) {
        config.verbose = true;
    }
    if let Some(retry) = file.get_bool("general", "retry-path")? {
        config.retry_path = retry;
    }
    if let Some(list) = string("block-rpcs") {
        config.block_rpcs.extend(split_list(&list));
    }
    if let Some(list) = string("allow-rpcs") {
        config.allow_rpcs.extend(split_list(&list));
    }
    if let Some(size) = string("exec-memory-limit") {
        config.exec_memory_limit = parse_size(&size)?;
    }
    Ok(())
}

/// A size as qemu's tools write it: a whole number of bytes, or with a suffix `K`, `M`, `G`
/// or `T` (powers of 1024, either case); `0` means no bound.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let invalid = || format!("invalid exec-memory-limit '{text}': expected a size such as 256M");
    let trimmed = text.trim();
    let (digits, shift) = match trimmed.char_indices().last() {
        Some((at, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'B' => 0,
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => return Err(invalid()),
            };
            (&trimmed[..at], shift)
        }
        _ => (trimmed, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(1usize << shift))
        .ok_or_else(invalid)
}

impl Config {
    /// The `--dump-conf` text: a key file that reproduces this configuration.
    pub fn dump(&self) -> String {
        let mut out = String::from("[general]\n");
        let entry =
            |out: &mut String, key: &str, value: &str| keyfile::write_entry(out, key, value);
        entry(&mut out, "daemon", bool_text(self.daemonize));
        entry(&mut out, "method", &self.method);
        if let Some(path) = &self.path {
            entry(&mut out, "path", path);
        }
        if let Some(log) = &self.log_file {
            entry(&mut out, "logfile", log);
        }
        entry(&mut out, "pidfile", &self.pid_file);
        if let Some(hook) = &self.fsfreeze_hook {
            entry(&mut out, "fsfreeze-hook", hook);
        }
        entry(&mut out, "statedir", &self.state_dir);
        entry(&mut out, "verbose", bool_text(self.verbose));
        entry(&mut out, "retry-path", bool_text(self.retry_path));
        entry(&mut out, "block-rpcs", &self.block_rpcs.join(","));
        entry(&mut out, "allow-rpcs", &self.allow_rpcs.join(","));
        // An extension: written only when set, so the default dump stays qemu-ga's.
        if self.exec_memory_limit != DEFAULT_EXEC_MEMORY_LIMIT {
            let limit = self.exec_memory_limit.to_string();
            entry(&mut out, "exec-memory-limit", &limit);
        }
        out
    }
}

fn bool_text(value: bool) -> &'static str {
    if value {
        "true"
    } else {
        "false"
    }
}

/// The `--help` text.
pub fn usage(argv0: &str) -> String {
    format!(
        "Usage: {argv0} [-m <method> -p <path>] [<options>]
QEMU Guest Agent {QGA_VERSION} compatible agent (qga-agent {own})

  -c, --config=PATH     read the configuration from PATH (default {DEFAULT_CONFIG},
                        or $QGA_CONF when set)
  -m, --method=METHOD   transport: virtio-serial (default), isa-serial,
                        unix-listen or vsock-listen
  -p, --path=PATH       device or socket path; defaults: {DEFAULT_VIRTIO_PATH}
                        for virtio-serial, {DEFAULT_ISA_PATH} for isa-serial;
                        vsock-listen takes <cid>:<port>
  -l, --logfile=PATH    append log lines to PATH (default: standard error)
  -f, --pidfile=PATH    pid file written when daemonized (default {DEFAULT_PIDFILE})
  -F, --fsfreeze-hook[=PATH]
                        run a hook with 'freeze'/'thaw' around filesystem freezes
                        (default {DEFAULT_FSFREEZE_HOOK}); the path must be attached
                        to the option, as in -F/path/to/hook
  -t, --statedir=DIR    directory for persistent state (default {DEFAULT_STATEDIR})
  -v, --verbose         log everything, including debug messages
  -V, --version         print the version and exit
  -d, --daemonize       run in the background
  -b, --block-rpcs=LIST disable the comma-separated commands in LIST
                        (--block-rpcs=help lists all commands)
  -a, --allow-rpcs=LIST enable only the comma-separated commands in LIST
                        (--allow-rpcs=help lists all commands)
  -D, --dump-conf       print the effective configuration as a config file and exit
  -r, --retry-path      keep trying to reopen the channel when it fails
      --exec-memory-limit=SIZE
                        most memory for guest-exec's captured output and input,
                        all commands together (default 256M; 0: no bound)
  -h, --help            print this help and exit
",
        own = env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str], files: &[(&str, &str)]) -> Outcome {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let files: Vec<(String, String)> = files
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let read = move |path: &str| {
            files
                .iter()
                .find(|(p, _)| p == path)
                .map(|(_, t)| t.clone())
                .ok_or_else(|| std::io::Error::from_raw_os_error(2))
        };
        parse("qga", &args, None, &["guest-sync", "guest-ping"], &read)
    }

    fn config(args: &[&str], files: &[(&str, &str)]) -> Config {
        match run(args, files) {
            Outcome::Run(c) => c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_dump_like_qemu_ga() {
        assert_eq!(
            config(&["-D"], &[]).dump(),
            "[general]\ndaemon=false\nmethod=virtio-serial\npath=/dev/virtio-ports/org.qemu.guest_agent.0\n\
             pidfile=/var/run/qemu-ga.pid\nstatedir=/var/run\nverbose=false\nretry-path=false\n\
             block-rpcs=\nallow-rpcs=\n"
        );
    }

    #[test]
    fn file_then_options_with_lists_accumulating() {
        let conf =
            "[general]\ndaemon=1\nmethod=unix-listen\npath=/tmp/x.sock\nlogfile=/tmp/l.log\n\
                    fsfreeze-hook=/tmp/hook\nverbose=true\nretry-path=true\n\
                    block-rpcs=guest-ping,guest-info\nallow-rpcs=guest-sync,\n";
        let c = config(
            &[
                "-c",
                "/c",
                "-D",
                "-b",
                "guest-get-time",
                "-a",
                "guest-ping",
                "-m",
                "vsock-listen",
                "-F",
            ],
            &[("/c", conf)],
        );
        assert_eq!(
            c.dump(),
            "[general]\ndaemon=true\nmethod=vsock-listen\npath=/tmp/x.sock\nlogfile=/tmp/l.log\n\
             pidfile=/var/run/qemu-ga.pid\nfsfreeze-hook=/etc/qemu/fsfreeze-hook\nstatedir=/var/run\n\
             verbose=true\nretry-path=true\nblock-rpcs=guest-info,guest-ping,guest-get-time\n\
             allow-rpcs=,guest-sync,guest-ping\n"
        );
        assert_eq!(
            config(&["-b", "a,b", "-b", "c,d"], &[]).block_rpcs,
            ["b", "a", "d", "c"]
        );
    }

    #[test]
    fn exec_memory_limit() {
        assert_eq!(config(&[], &[]).exec_memory_limit, 256 << 20);
        assert_eq!(
            config(&["--exec-memory-limit=64M"], &[]).exec_memory_limit,
            64 << 20
        );
        assert_eq!(config(&["--exec-mem", "0"], &[]).exec_memory_limit, 0);
        let file = config(
            &["-c", "/c"],
            &[("/c", "[general]\nexec-memory-limit=2g\n")],
        );
        assert_eq!(file.exec_memory_limit, 2 << 30);
        assert!(file
            .dump()
            .ends_with("allow-rpcs=\nexec-memory-limit=2147483648\n"));
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("1k").unwrap(), 1024);
        for bad in ["", "M", "-1", "1.5G", "12Q", "99999999999999999999"] {
            assert_eq!(
                parse_size(bad).unwrap_err(),
                format!("invalid exec-memory-limit '{bad}': expected a size such as 256M")
            );
        }
        match run(&["--exec-memory-limit=lots"], &[]) {
            Outcome::Exit {
                stderr, code: 1, ..
            } => assert_eq!(
                stderr,
                "qga: invalid exec-memory-limit 'lots': expected a size such as 256M\n"
            ),
            other => panic!("{other:?}"),
        }
        match run(&["-c", "/c"], &[("/c", "[general]\nexec-memory-limit=x\n")]) {
            Outcome::Exit {
                stderr, code: 1, ..
            } => assert_eq!(
                stderr,
                "error loading configuration from path: /c, invalid exec-memory-limit 'x': \
                 expected a size such as 256M\n"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn getopt_forms() {
        let c = config(
            &[
                "--meth=unix-listen",
                "--pa",
                "/x",
                "-vdr",
                "-F/h",
                "-t/s",
                "extra",
            ],
            &[],
        );
        assert_eq!(c.method, "unix-listen");
        assert_eq!(c.path.as_deref(), Some("/x"));
        assert!(c.verbose && c.daemonize && c.retry_path);
        assert_eq!(c.fsfreeze_hook.as_deref(), Some("/h"));
        assert_eq!(c.state_dir, "/s");
        assert_eq!(config(&["-m", "unix-listen"], &[]).path, None);
        assert_eq!(
            config(&["-m", "isa-serial"], &[]).path.as_deref(),
            Some("/dev/ttyS0")
        );
    }

    #[test]
    fn errors_and_early_exits() {
        let stderr_of = |args: &[&str]| match run(args, &[]) {
            Outcome::Exit {
                stderr,
                code: 1,
                stdout,
            } => {
                assert_eq!(
                    stdout,
                    "Unknown option, try 'qga --help' for more information.\n"
                );
                stderr
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(
            stderr_of(&["--bogus"]),
            "qga: unrecognized option '--bogus'\n"
        );
        assert_eq!(stderr_of(&["-x"]), "qga: invalid option -- 'x'\n");
        assert_eq!(
            stderr_of(&["-p"]),
            "qga: option requires an argument -- 'p'\n"
        );
        assert_eq!(
            stderr_of(&["--path"]),
            "qga: option '--path' requires an argument\n"
        );
        assert_eq!(
            stderr_of(&["--help=x"]),
            "qga: option '--help' doesn't allow an argument\n"
        );
        assert_eq!(
            stderr_of(&["--p", "x"]),
            "qga: option '--p' is ambiguous; possibilities: '--pidfile' '--path'\n"
        );
        assert!(matches!(
            run(&["-V", "--bogus"], &[]),
            Outcome::Exit { code: 0, .. }
        ));
        assert_eq!(
            run(&["-b", "help"], &[]),
            Outcome::exit("guest-sync\nguest-ping\n".into(), String::new(), 0)
        );
        match run(&["-c", "/missing"], &[]) {
            Outcome::Exit {
                stderr, code: 1, ..
            } => assert_eq!(
                stderr,
                "error loading configuration from path: /missing, No such file or directory\n"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            stderr_of(&["--exec-memory-limit"]),
            "qga: option '--exec-memory-limit' requires an argument\n"
        );
        // The default file may be missing; a bad one is an error.
        assert!(matches!(run(&[], &[]), Outcome::Run(_)));
        assert!(matches!(
            run(&[], &[(DEFAULT_CONFIG, "[general]\ndaemon=yes\n")]),
            Outcome::Exit { code: 1, .. }
        ));
    }
}
