//! Schema doc comments (reStructuredText-flavoured) as rustdoc Markdown.
//!
//! The conversion is deliberately small: `@name` references become code spans, literal blocks
//! and example directives become ```` ```text ```` fences (never doctests), admonitions become
//! bold labels, and indentation is normalised so that Markdown does not invent code blocks and
//! list continuations line up (clippy's doc lints stay quiet).

use proc_macro2::{Literal, TokenStream};
use qapi_parser::{Doc, SectionKind};
use quote::quote;
use std::borrow::Cow;

/// Turns doc lines into `#[doc = " line"]` attributes (prettyplease prints them as `///`).
pub fn attrs(lines: &[String]) -> TokenStream {
    let mut out = TokenStream::new();
    let mut text = String::new();
    for line in trim_blank_edges(lines) {
        text.clear();
        if !line.is_empty() {
            text.push(' ');
            text.push_str(line);
        }
        let text = literal(&text);
        out.extend(quote!(#[doc = #text]));
    }
    out
}

/// One doc line as a literal: a raw one (`r#"..."#`) where it can hold the text, since docs
/// are most of the output and a raw literal is neither escaped here nor unescaped when the
/// output is parsed.
fn literal(text: &str) -> Literal {
    // Enough `#`s that no `"` followed by them ends the literal early.
    let bytes = text.as_bytes();
    let mut hashes = 0;
    for (i, _) in bytes.iter().enumerate().filter(|(_, b)| **b == b'"') {
        let run = bytes[i + 1..].iter().take_while(|b| **b == b'#').count();
        hashes = hashes.max(run + 1);
    }
    let fence = "#".repeat(hashes);
    match format!("r{fence}\"{text}\"{fence}").parse::<Literal>() {
        Ok(lit) if !text.contains('\r') => lit,
        _ => Literal::string(text),
    }
}

fn trim_blank_edges(lines: &[String]) -> &[String] {
    let start = lines
        .iter()
        .position(|l| !l.is_empty())
        .unwrap_or(lines.len());
    let end = lines
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(start, |e| e + 1);
    &lines[start..end]
}

/// The doc of a definition: body, then features, then its sections (`# Returns`, ...).
pub fn definition(doc: &Doc, notes: &[String]) -> Vec<String> {
    let mut out = markdown(&doc.body);
    for note in notes {
        push_paragraph(&mut out, vec![note.clone()]);
    }
    let features: Vec<_> = doc
        .features
        .iter()
        .filter(|f| !f.text.trim().is_empty())
        .collect();
    if !features.is_empty() {
        push_paragraph(&mut out, vec!["# Features".to_owned()]);
        for feature in features {
            let mut text = markdown(&feature.text);
            if let Some(first) = text.first_mut() {
                *first = format!("`{}`: {first}", feature.name);
            }
            push_paragraph(&mut out, text);
        }
    }
    for section in &doc.sections {
        let heading = match section.kind {
            SectionKind::Returns => Some("# Returns"),
            SectionKind::Errors => Some("# Errors"),
            SectionKind::Since => Some("# Since"),
            SectionKind::Todo => Some("# TODO"),
            SectionKind::Plain => None,
        };
        let mut text = markdown(&section.text);
        if section.kind == SectionKind::Since {
            // "Since: 1.5" sections hold just the version.
            text = text.into_iter().map(|l| l.trim().to_owned()).collect();
        }
        if let Some(h) = heading {
            push_paragraph(&mut out, vec![h.to_owned()]);
        }
        push_paragraph(&mut out, text);
    }
    out
}

/// The doc of a member, value or branch called `name` in `doc`, plus notes.
pub fn member(doc: Option<&Doc>, name: &str, notes: &[String]) -> Vec<String> {
    let mut out = doc
        .and_then(|d| d.args.iter().find(|a| a.name == name))
        .map(|a| markdown(&a.text))
        .unwrap_or_default();
    for note in notes {
        push_paragraph(&mut out, vec![note.clone()]);
    }
    out
}

fn push_paragraph(out: &mut Vec<String>, lines: Vec<String>) {
    if lines.iter().all(|l| l.is_empty()) {
        return;
    }
    if !out.is_empty() {
        out.push(String::new());
    }
    out.extend(lines);
}

/// Admonition directives rendered as a bold label.
const ADMONITIONS: &[&str] = &[
    "note",
    "warning",
    "caution",
    "important",
    "tip",
    "hint",
    "danger",
    "attention",
    "error",
    "seealso",
    "admonition",
];

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// Converts one doc text to Markdown lines.
pub fn markdown(text: &str) -> Vec<String> {
    let lines: Vec<Cow<str>> = text
        .lines()
        .map(|l| {
            if l.contains('\t') {
                Cow::Owned(l.replace('\t', "    "))
            } else {
                Cow::Borrowed(l)
            }
        })
        .collect();
    let mut out: Vec<String> = Vec::new();
    // Content column of the list item being continued, if any.
    let mut list_indent: Option<usize> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        let trimmed = line.trim();
        let indent = indent_of(line);
        if trimmed.is_empty() {
            out.push(String::new());
            i += 1;
            continue;
        }
        // Directives: `.. name:: args` with an indented body.
        if let Some(rest) = trimmed.strip_prefix(".. ") {
            if let Some((name, args)) = rest.split_once("::") {
                let (body, next) = indented_block(&lines, i + 1, indent);
                let name = name.trim();
                if ADMONITIONS.contains(&name) {
                    let label = if name == "admonition" {
                        args.trim().to_owned()
                    } else {
                        let mut c = name.chars();
                        c.next()
                            .map(|f| f.to_uppercase().chain(c).collect::<String>())
                            .unwrap_or_default()
                    };
                    out.push(format!("**{label}:**"));
                    let first = if name == "admonition" {
                        ""
                    } else {
                        args.trim()
                    };
                    if let Some(head) = first.strip_suffix("::") {
                        // The directive's first line introduces a literal block: its body.
                        out.push(inline(&format!("{}:", head.trim_end())));
                        fence(&mut out, &body);
                    } else {
                        let mut inner = first.to_owned();
                        for line in &body {
                            inner.push('\n');
                            inner.push_str(line);
                        }
                        out.extend(markdown(&inner));
                    }
                } else {
                    let body: Vec<String> = body
                        .into_iter()
                        .filter(|l| !l.trim_start().starts_with(':'))
                        .skip_while(|l| l.is_empty())
                        .collect();
                    fence(&mut out, &body);
                }
                list_indent = None;
                i = next;
                continue;
            }
            // A comment or unknown markup line: drop it.
            i += 1;
            continue;
        }
        // A paragraph ending in `::` introduces a literal block.
        if trimmed.ends_with("::") {
            let (body, next) = indented_block(&lines, i + 1, indent);
            let head = trimmed.trim_end_matches("::").trim_end();
            if !head.is_empty() {
                out.push(inline(&format!("{head}:")));
            }
            if !body.is_empty() {
                fence(&mut out, &body);
            }
            list_indent = None;
            i = next;
            continue;
        }
        if let Some(content) = list_item(trimmed) {
            let marker_len = trimmed.len() - content.len();
            let marker = &trimmed[..marker_len];
            let marker = if marker.starts_with("#.") {
                "1. "
            } else {
                marker
            };
            out.push(format!("{marker}{}", inline(content)));
            list_indent = Some(marker.len());
            i += 1;
            continue;
        }
        match list_indent {
            Some(width) if indent > 0 => {
                out.push(format!("{}{}", " ".repeat(width), inline(trimmed)));
            }
            _ => {
                list_indent = None;
                out.push(escape_start(inline(trimmed)));
            }
        }
        i += 1;
    }
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    out
}

fn last_is_text(out: &[String]) -> bool {
    out.last().is_some_and(|l| !l.is_empty())
}

/// The lines after `start` indented deeper than `base` (blank lines included), dedented.
fn indented_block(lines: &[Cow<str>], start: usize, base: usize) -> (Vec<String>, usize) {
    let mut end = start;
    while end < lines.len() {
        let l = &lines[end];
        if !l.trim().is_empty() && indent_of(l) <= base {
            break;
        }
        end += 1;
    }
    let block = &lines[start..end];
    let min = block
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| indent_of(l))
        .min()
        .unwrap_or(0);
    let mut body: Vec<String> = block
        .iter()
        .map(|l| {
            if l.len() >= min {
                l[min..].trim_end().to_owned()
            } else {
                String::new()
            }
        })
        .collect();
    while body.first().is_some_and(String::is_empty) {
        body.remove(0);
    }
    while body.last().is_some_and(String::is_empty) {
        body.pop();
    }
    (body, end)
}

fn fence(out: &mut Vec<String>, body: &[String]) {
    if body.is_empty() {
        return;
    }
    if last_is_text(out) {
        out.push(String::new());
    }
    out.push("```text".to_owned());
    out.extend(body.iter().cloned());
    out.push("```".to_owned());
    out.push(String::new());
}

/// The content of a bullet or enumerated list item line.
fn list_item(line: &str) -> Option<&str> {
    for bullet in ["- ", "* ", "+ ", "#. "] {
        if let Some(rest) = line.strip_prefix(bullet) {
            return Some(rest);
        }
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && digits < 4 {
        let rest = &line[digits..];
        if let Some(content) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return Some(content);
        }
    }
    None
}

/// Keeps a line from starting Markdown structure it did not mean (headings, quotes).
fn escape_start(line: String) -> String {
    match line.chars().next() {
        Some('#') | Some('>') => format!("\\{line}"),
        _ => line,
    }
}

/// Inline markup: `@name` references become code spans.
fn inline(text: &str) -> String {
    if !text.contains('@') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.char_indices().peekable();
    let mut prev: Option<char> = None;
    while let Some((i, c)) = chars.next() {
        let starts_ref = c == '@'
            && !prev.is_some_and(|p| p.is_alphanumeric() || p == '`')
            && chars
                .peek()
                .is_some_and(|(_, n)| n.is_ascii_alphabetic() || *n == '_');
        if starts_ref {
            let rest = &text[i + 1..];
            let len = rest
                .find(|ch: char| {
                    !(ch.is_ascii_alphanumeric() || ch == '-' || ch == '_' || ch == '.')
                })
                .unwrap_or(rest.len());
            let name = rest[..len].trim_end_matches('.');
            out.push('`');
            out.push_str(name);
            out.push('`');
            for _ in 0..name.chars().count() {
                chars.next();
            }
            prev = Some('`');
            continue;
        }
        out.push(c);
        prev = Some(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_become_code() {
        assert_eq!(inline("see @guest-sync."), "see `guest-sync`.");
        assert_eq!(inline("mail a@b.c"), "mail a@b.c");
    }

    #[test]
    fn literal_blocks_are_fenced() {
        let md = markdown("Example::\n\n    -> { \"execute\": \"x\" }\n    <- {}\n\nAfter.");
        assert_eq!(
            md,
            [
                "Example:",
                "",
                "```text",
                "-> { \"execute\": \"x\" }",
                "<- {}",
                "```",
                "",
                "After."
            ]
        );
    }

    #[test]
    fn directives() {
        let md =
            markdown(".. qmp-example::\n   :title: T\n\n   -> {}\n\n.. note:: This\n   matters.");
        assert_eq!(md[0], "```text");
        assert_eq!(md[1], "-> {}");
        assert!(md.contains(&"**Note:**".to_owned()), "{md:?}");
    }

    #[test]
    fn list_continuations_line_up() {
        let md = markdown(
            "- first item\n     continues\n- second\n\nIndented paragraph\n      stays prose",
        );
        assert_eq!(
            md,
            [
                "- first item",
                "  continues",
                "- second",
                "",
                "Indented paragraph",
                "stays prose"
            ]
        );
    }

    #[test]
    fn headings_are_not_invented() {
        assert_eq!(markdown("# not a heading"), ["\\# not a heading"]);
    }
}
