//! No input makes the front end panic or hang: truncations and random mutations of the real
//! schemas must all end in a schema or a well-formed error (whose message and report render,
//! and whose location lies within the text that was read).
//!
//! Every prefix of the guest-agent schemas (`schema/qga`, strict; `schema/qga-1.5`, legacy
//! and strict) is loaded, spread over all cores (about 1.3 GB of input in all); QMP files
//! get sampled prefixes, and every byte offset of a top-level chunk is also tried without
//! the text before it.

mod common;

use common::{legacy, repo, strict};
use qapi_parser::{parse_str, Error, ErrorKind, Options};

/// Parses `text` and renders whatever comes out; the test fails if anything panics.
fn exercise(text: &str, options: &Options) {
    match parse_str("cases/t.json", text, options) {
        Ok(schema) => {
            let _ = qapi_parser::dump(&schema);
        }
        Err(e) => {
            let shown = e.to_string();
            assert!(!shown.is_empty());
            let _ = e.report();
        }
    }
}

/// Loads `text` as file `name` (which includes nothing): a schema must dump, an error must
/// be a schema error located in `text` and render with that location.
fn load_checked(name: &str, text: &str, options: &Options) {
    match parse_str(name, text, options) {
        Ok(schema) => assert!(qapi_parser::dump(&schema).contains(&format!("module {name}\n"))),
        Err(e) => check_error(&e, name, text),
    }
}

fn check_error(e: &Error, name: &str, text: &str) {
    let context = || format!("{e}\nafter {} bytes ending {:?}", text.len(), tail(text));
    assert_ne!(e.kind(), ErrorKind::Io, "{}", context());
    assert_eq!(e.file(), Some(name), "{}", context());
    assert!(
        !e.message().is_empty() && !e.message().contains("internal"),
        "{}",
        context()
    );
    // The loader reads the text plus a final newline when it lacks one.
    let lines = text.lines().count().max(1) as u32;
    let line = e.line().unwrap_or(0);
    assert!(
        (1..=lines).contains(&line),
        "line out of range: {}",
        context()
    );
    if e.kind() == ErrorKind::Parse {
        let width = text
            .lines()
            .nth(line as usize - 1)
            .unwrap_or("")
            .chars()
            .count() as u32;
        let col = e.column().unwrap_or(0);
        assert!(
            (1..=width + 1).contains(&col),
            "column out of range: {}",
            context()
        );
    }
    let shown = e.to_string();
    assert!(shown.contains(&format!("{name}:{line}")), "{}", context());
    let report = e.report();
    let first = e.message().lines().next().unwrap_or("");
    assert!(report.contains(first) && report.contains(name), "{report}");
}

fn tail(text: &str) -> &str {
    let mut start = text.len().saturating_sub(40);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    &text[start..]
}

/// Loads every prefix of `text` (at every character boundary, so every byte of ASCII
/// text), spread over all cores.
fn every_prefix(name: &str, text: &str, options: &Options) {
    let cuts: Vec<usize> = (0..=text.len())
        .filter(|&cut| text.is_char_boundary(cut))
        .collect();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        for worker in 0..workers {
            let cuts = &cuts;
            scope.spawn(move || {
                for &cut in cuts.iter().skip(worker).step_by(workers) {
                    load_checked(name, &text[..cut], options);
                }
            });
        }
    });
}

#[test]
fn every_prefix_of_the_qga_schema() {
    let text = read("schema/qga/qapi-schema.json");
    every_prefix("qga.json", &text, &strict());
}

#[test]
fn every_prefix_of_the_qga_1_5_schema() {
    let text = read("schema/qga-1.5/qapi-schema.json");
    every_prefix("qga-1.5.json", &text, &legacy());
    every_prefix("qga-1.5.json", &text, &strict());
}

/// Byte offsets where a top-level construct starts at the beginning of a line.
fn chunk_starts(text: &str) -> Vec<usize> {
    let mut starts = vec![0];
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if at > 0 && (line.starts_with('{') || line.starts_with("##")) {
            starts.push(at);
        }
        at += line.len();
    }
    starts.push(text.len());
    starts.dedup();
    starts
}

/// Deterministic xorshift64* generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn read(rel: &str) -> String {
    let path = repo(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

#[test]
fn every_truncation_point_of_each_qga_chunk() {
    let text = read("schema/qga/qapi-schema.json");
    let starts = chunk_starts(&text);
    for pair in starts.windows(2) {
        let (start, end) = (pair[0], pair[1]);
        for cut in start..=end {
            if text.is_char_boundary(cut) {
                exercise(&text[start..cut], &strict());
            }
        }
    }
}

#[test]
fn sampled_truncations_with_full_context() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    for (rel, options, samples) in [
        ("schema/qmp/common.json", strict(), 60),
        ("schema/qmp/run-state.json", strict(), 40),
        ("schema/qmp/block-export.json", legacy(), 40),
    ] {
        let text = read(rel);
        for _ in 0..samples {
            let mut cut = rng.below(text.len() + 1);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            exercise(&text[..cut], &options);
        }
    }
}

#[test]
fn every_truncation_point_of_the_seed_in_legacy_mode() {
    let text = read("schema/qga-1.5/qapi-schema.json");
    let starts = chunk_starts(&text);
    for pair in starts.windows(2) {
        for cut in pair[0]..=pair[1] {
            if text.is_char_boundary(cut) {
                exercise(&text[pair[0]..cut], &legacy());
            }
        }
    }
}

/// Characters that matter to the lexer, parser and doc parser.
const INTERESTING: &[char] = &[
    '{', '}', '[', ']', ':', ',', '\'', '"', '#', '\n', ' ', '\t', '\\', '@', '*', '=', 't', 'f',
    'a', 'Z', '0', '_', '-', '.', '\u{e9}', '\u{a0}', '\r', '\u{1c}',
];

fn mutate(text: &str, rng: &mut Rng) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..1 + rng.below(4) {
        if chars.is_empty() {
            break;
        }
        let at = rng.below(chars.len());
        match rng.below(6) {
            0 => chars[at] = INTERESTING[rng.below(INTERESTING.len())],
            1 => chars.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
            2 => {
                let end = (at + 1 + rng.below(40)).min(chars.len());
                chars.drain(at..end);
            }
            3 => {
                // Duplicate a stretch (repeats keys, members, doc lines, definitions).
                let end = (at + 1 + rng.below(200)).min(chars.len());
                let copy: Vec<char> = chars[at..end].to_vec();
                let to = rng.below(chars.len());
                chars.splice(to..to, copy);
            }
            4 => {
                for c in "\n##\n".chars().rev() {
                    chars.insert(at, c);
                }
            }
            _ => {
                let (a, b) = (at, rng.below(chars.len()));
                chars.swap(a, b);
            }
        }
    }
    chars.into_iter().collect()
}

#[test]
fn random_mutations() {
    let mut rng = Rng(0x0dd_ba11_cafe_f00d);
    for (rel, rounds) in [
        ("schema/qga/qapi-schema.json", 300),
        ("schema/qga-1.5/qapi-schema.json", 300),
        ("schema/qmp/common.json", 200),
    ] {
        let text = read(rel);
        for round in 0..rounds {
            let mutant = mutate(&text, &mut rng);
            let options = if round % 2 == 0 { strict() } else { legacy() };
            exercise(&mutant, &options);
        }
    }
}

#[test]
fn hostile_shapes() {
    for text in [
        "[".repeat(5000),
        "{ 'a': ".repeat(5000),
        format!(
            "{{ 'command': 'c', 'if': {}'A'{} }}",
            "{ 'not': ".repeat(400),
            " }".repeat(400)
        ),
        format!("##\n{}##\n", "# @a: x\n".repeat(3000)),
        format!(
            "{{ 'enum': 'Abc', 'data': [ {} ] }}",
            vec!["'a'"; 3000].join(", ")
        ),
        "'".repeat(1000),
        "\\".repeat(1000),
        "##".repeat(1000),
        "\u{feff}{ 'struct': 'Abc', 'data': {} }".to_string(),
        "\0\u{1}\u{7f}".to_string(),
        String::new(),
    ] {
        exercise(&text, &strict());
        exercise(&text, &legacy());
    }
}

/// The grammar refuses values inside more than 512 open objects and lists (see `dict` in
/// `qapi.pest`; QEMU answers normally up to 494). Up to there, parsing and checking must not
/// overflow even when called from a 2 MB thread, unoptimized: the loader runs on a thread
/// with its own stack. The caller's size is explicit, so the check holds whatever
/// `RUST_MIN_STACK` says.
#[test]
fn deep_nesting_fits_a_small_stack() {
    let too_deep = "expressions nested too deeply";
    let nested = |open: &str, inner: &str, close: &str, n: usize| {
        format!("{}{inner}{}", open.repeat(n), close.repeat(n))
    };
    let cases = [
        (nested("{ 'a': ", "'x'", " }", 512), false),
        (nested("{ 'a': ", "'x'", " }", 513), true),
        (nested("[ ", "'x'", " ]", 512), false),
        (nested("[ ", "'x'", " ]", 513), true),
        (nested("{ 'a': [ ", "'x'", " ] }", 256), false),
        (nested("{ 'a': [ ", "{ 'b': 'x' }", " ] }", 256), true),
        (
            nested(
                "{ 'command': 'c', 'if': ",
                &nested("{ 'not': ", "'A'", " }", 511),
                " }",
                1,
            ),
            false,
        ),
        ("{ 'a': ".repeat(100_000), true),
        ("[".repeat(100_000), true),
    ];
    let worker = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            for (text, refused) in cases {
                let outcome = match parse_str("t.json", &text, &strict()) {
                    Ok(_) => "a schema".to_string(),
                    Err(e) => e.to_string(),
                };
                assert_eq!(
                    outcome.ends_with(too_deep),
                    refused,
                    "{outcome} ({} bytes)",
                    text.len()
                );
            }
        })
        .expect("thread starts");
    worker.join().expect("no overflow, no failed check");
}

/// Sizes where a quadratic step would take minutes: many members, descriptions, values and
/// branches in one definition must all be handled in near-linear time.
#[test]
fn large_definitions() {
    let n = 20_000;
    let members: Vec<String> = (0..n).map(|i| format!("'m{i}': 'int'")).collect();
    let described: String = (0..n).map(|i| format!("# @m{i}: x\n")).collect();
    let values: Vec<String> = (0..n).map(|i| format!("'v{i}'")).collect();
    let branches: Vec<String> = (0..n / 2).map(|i| format!("'v{i}': 'Sa'")).collect();
    let text = format!(
        "##\n# @c:\n{described}##\n{{ 'command': 'c', 'data': {{ {} }} }}\n\
         {{ 'enum': 'En', 'data': [ {} ] }}\n{{ 'struct': 'Sa', 'data': {{}} }}\n\
         {{ 'union': 'Un', 'base': {{ 'kind': 'En' }}, 'discriminator': 'kind', 'data': {{ {} }} }}",
        members.join(", "),
        values.join(", "),
        branches.join(", ")
    );
    let schema = parse_str("t.json", &text, &strict()).expect("valid");
    assert_eq!(schema.docs()[0].args.len(), n);
}
