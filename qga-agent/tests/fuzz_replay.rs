//! The fuzz target's harness (`qga_agent::fuzzing::run`), deterministically: the seed corpus
//! of `fuzz/seeds` and a few thousand generated streams (requests from a small grammar, then
//! cut, spliced and flipped) must all be answered with valid replies and no panic. The long
//! runs are `RUSTC_BOOTSTRAP=1 cargo fuzz run requests` in `qga-agent/`.

use std::path::Path;

use qga_agent::fuzzing::{self, Scratch, ENABLED};

/// xorshift64*: the same inputs on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const OTHER_COMMANDS: &[&str] = &[
    "guest-exec",
    "guest-shutdown",
    "guest-fsfreeze-freeze",
    "guest-set-time",
    "guest-no-such-command",
    "",
];
const KEYS: &[&str] = &[
    "id",
    "path",
    "mode",
    "handle",
    "count",
    "buf-b64",
    "offset",
    "whence",
    "pid",
    "x",
    "argumen\\u0000ts",
];
const SCALARS: &[&str] = &[
    "0",
    "-1",
    "1000",
    "1001",
    "9223372036854775807",
    "-9223372036854775809",
    "1e400",
    "1.5",
    "-0",
    "true",
    "false",
    "null",
    "\"\"",
    "\"r\"",
    "\"w+\"",
    "\"a\"",
    "\"set\"",
    "\"cur\"",
    "\"end\"",
    "\"aGVsbG8=\"",
    "\"a=b\"",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"é\"",
    "18446744073709551616",
];

fn value(rng: &mut Rng, depth: usize) -> String {
    match rng.below(if depth > 2 { 1 } else { 4 }) {
        0 => rng.pick(SCALARS).to_owned(),
        1 => format!("[{}, {}]", value(rng, depth + 1), value(rng, depth + 1)),
        _ => object(rng, depth + 1),
    }
}

fn object(rng: &mut Rng, depth: usize) -> String {
    let members: Vec<String> = (0..rng.below(4))
        .map(|_| format!("\"{}\": {}", rng.pick(KEYS), value(rng, depth + 1)))
        .collect();
    format!("{{{}}}", members.join(", "))
}

fn request(rng: &mut Rng) -> String {
    let name = if rng.below(4) == 0 {
        rng.pick(OTHER_COMMANDS)
    } else {
        rng.pick(ENABLED)
    };
    let mut members = vec![format!("\"execute\": \"{name}\"")];
    if rng.below(3) > 0 {
        members.push(format!("\"arguments\": {}", object(rng, 0)));
    }
    if rng.below(3) == 0 {
        members.push(format!("\"id\": {}", value(rng, 1)));
    }
    format!("{{{}}}", members.join(", "))
}

fn stream(rng: &mut Rng) -> Vec<u8> {
    let mut bytes = vec![rng.next() as u8];
    for _ in 0..1 + rng.below(6) {
        bytes.extend_from_slice(request(rng).as_bytes());
    }
    // Damage some of them: flipped bytes, a cut, stray delimiters and control bytes.
    for _ in 0..rng.below(4) {
        if bytes.len() > 1 {
            let at = 1 + rng.below(bytes.len() - 1);
            match rng.below(4) {
                0 => bytes[at] ^= 1 << rng.below(8),
                1 => bytes.truncate(at),
                2 => bytes.insert(at, [0xFF, 0x00, b'{', b'[', b'"', b'\\'][rng.below(6)]),
                _ => bytes
                    .splice(at..at, b"]]]}}}".iter().copied())
                    .for_each(drop),
            }
        }
    }
    bytes
}

fn check(data: &[u8], scratch: &Scratch, what: &str) -> usize {
    match fuzzing::run(data, scratch) {
        Ok(replies) => replies,
        Err(problem) => panic!(
            "{what}: {problem}\ninput: {:?}",
            String::from_utf8_lossy(data)
        ),
    }
}

#[test]
fn seed_corpus() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let scratch = Scratch::new(dir.path()).expect("scratch");
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    let mut replies = 0;
    for entry in std::fs::read_dir(&seeds).expect("fuzz/seeds") {
        let path = entry.expect("seed").path();
        let data = std::fs::read(&path).expect("seed file");
        replies += check(&data, &scratch, &path.display().to_string());
    }
    assert!(replies >= 20, "only {replies} replies from the seeds");
}

#[test]
fn generated_streams() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let scratch = Scratch::new(dir.path()).expect("scratch");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut replies = 0;
    for i in 0..3000 {
        let data = stream(&mut rng);
        replies += check(&data, &scratch, &format!("input {i}"));
    }
    // Most generated requests are well-formed enough to be answered.
    assert!(replies > 3000, "only {replies} replies");
}
