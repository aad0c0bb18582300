//! QEMU's streaming JSON reader, rewritten: lexer, message splitter and parser with the same
//! accepted syntax, error texts, limits and recovery behaviour as qemu-ga's input side.
//!
//! Values may arrive with or without separators, several per read or split over many reads; a
//! byte that cannot be lexed reports an error, discards the message being assembled and skips
//! input until a structural character, a control byte or 0xFE/0xFF (so 0xFF resynchronises).

mod lexer;
mod parser;
mod streamer;
mod utf8;

pub use streamer::{ParseError, Streamer};

/// Largest total size of one message's tokens, and of a single token, in bytes.
pub const MAX_TOKEN_SIZE: usize = 64 << 20;
/// Largest number of tokens in one message.
pub const MAX_TOKEN_COUNT: usize = 2 << 20;
/// Deepest nesting of `{` and `[` in one message.
pub const MAX_NESTING: usize = 1024;

/// The text qemu-ga's writer shows for raw bytes (invalid sequences become U+FFFD).
pub fn lossy_text(bytes: &[u8]) -> String {
    utf8::lossy(bytes)
}
