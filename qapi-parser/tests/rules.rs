//! The language rules of QEMU 10.0.2's front end, checked with small schemas of our own:
//! lexical quirks, syntax errors, doc comments, names, pragmas, and schema checks, including
//! rules the shipped QEMU cases do not exercise.

mod common;

use common::{dump_user, err, ok};
use qapi_parser::{Entity, ErrorKind, IfCond, Implicit, Options};

// ---- lexical layer ----

#[test]
fn tab_never_advances_the_column() {
    // A 12-character string puts the column at 13; the tab maps it to ((13 - 1) mod 8) + 1.
    assert_eq!(err("'abcdefghij'\t!"), "t.json:1:5: stray '!'");
    assert_eq!(err("\t\t!"), "t.json:1:1: stray '!'");
}

#[test]
fn universal_newlines() {
    assert_eq!(err("\r\n\r\n!"), "t.json:3:1: stray '!'");
    assert_eq!(err("\r\r!"), "t.json:3:1: stray '!'");
    assert_eq!(
        err("{ 'a'\r\n: }"),
        "t.json:2:3: expected '{', '[', string, or boolean"
    );
}

#[test]
fn true_and_false_are_prefix_matches() {
    assert_eq!(err("{ 'a': truex }"), "t.json:1:12: stray 'x'");
    assert_eq!(
        err("{ 'a': falsetrue }"),
        "t.json:1:13: expected ',' or '}'"
    );
    assert_eq!(err("{ 'a': tru }"), "t.json:1:8: stray 'tru'");
}

#[test]
fn python_whitespace_is_skipped() {
    // U+00A0 and U+001C are whitespace for Python's str.isspace().
    ok("{\u{a0}'enum': 'Abc', 'data': [] }\u{1c}\n");
    ok("{ 'enum':\u{3000}'Abc', 'data': [] }");
}

#[test]
fn stray_runs() {
    assert_eq!(err("{ 'a': null }"), "t.json:1:8: stray 'null'");
    assert_eq!(err("{ \"enum\": 'X' }"), "t.json:1:3: stray '\"enum\"'");
    assert_eq!(err("{ 'a': 12#3 }"), "t.json:1:8: stray '12#3'");
    assert_eq!(err("{ 'a': \\ }"), "t.json:1:8: stray '\\'");
    assert_eq!(err("{ command: 'x' }"), "t.json:1:3: stray 'command'");
}

#[test]
fn string_errors_point_at_the_opening_quote() {
    assert_eq!(err("{ 'a': 'b\\x' }"), "t.json:1:8: unknown escape \\x");
    assert_eq!(err("{ 'a': 'b\\'' }"), "t.json:1:8: unknown escape \\'");
    assert_eq!(
        err("{ 'a': 'b\tc' }"),
        "t.json:1:8: funny character in string"
    );
    assert_eq!(
        err("{ 'a': 'b\u{e9}' }"),
        "t.json:1:8: funny character in string"
    );
    assert_eq!(
        err("{ 'a': 'bc\n' }"),
        "t.json:1:8: missing terminating \"'\""
    );
    assert_eq!(
        err("{ 'a': 'bc\\\n' }"),
        "t.json:1:8: missing terminating \"'\""
    );
}

#[test]
fn funny_characters_are_reported_where_the_string_is_read() {
    let funny = |line: u32, col: u32| format!("t.json:{line}:{col}: funny character in string");
    // A key, and a string where a colon is due (QEMU's lexer fails before its parser).
    assert_eq!(err("{ 'b\u{1}': 'x' }"), funny(1, 3));
    assert_eq!(err("{ 'a' 'b\u{7f}' }"), funny(1, 7));
    // The value is read before its key is found to be a duplicate.
    assert_eq!(err("{ 'a': 'x', 'a': 'y\u{e9}' }"), funny(1, 18));
    // A list element, a character after an escape, and the token after a definition.
    assert_eq!(err("{ 'a': [ 'x', 'y\ty' ] }"), funny(1, 15));
    assert_eq!(err("{ 'a': 'b\\\\\u{1}' }"), funny(1, 8));
    assert_eq!(err("{ 'enum': 'E', 'data': [] }\n'\u{1}'"), funny(2, 1));
}

#[test]
fn double_backslash_is_one_backslash() {
    let s = ok("{ 'enum': 'Abc', 'data': [], 'prefix': 'a\\\\b' }");
    match s.get("Abc") {
        Some(Entity::Enum(e)) => assert_eq!(e.prefix.as_deref(), Some("a\\b")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn lexical_error_after_a_top_level_value_wins() {
    // QEMU reads the token after a value before complaining about the value.
    assert_eq!(err("'a' 'b\\x'"), "t.json:1:5: unknown escape \\x");
    assert_eq!(
        err("'a'\n"),
        "t.json:1: top-level expression must be an object"
    );
}

// ---- syntax ----

#[test]
fn syntax_errors() {
    assert_eq!(
        err("{ 'a': "),
        "t.json:1:8: expected '{', '[', string, or boolean"
    );
    assert_eq!(err("{ 'a' 'b' }"), "t.json:1:7: expected ':'");
    assert_eq!(err("{ 'a': 'b' 'c' }"), "t.json:1:12: expected ',' or '}'");
    assert_eq!(err("{ 'a': 'b', }"), "t.json:1:13: expected string");
    assert_eq!(err("{ , }"), "t.json:1:3: expected string or '}'");
    assert_eq!(
        err("{ 'a': [ , ] }"),
        "t.json:1:10: expected '{', '[', ']', string, or boolean"
    );
    assert_eq!(
        err("{ 'a': [ 'b' 'c' ] }"),
        "t.json:1:14: expected ',' or ']'"
    );
    assert_eq!(
        err("{ 'a': [ 'b', ] }"),
        "t.json:1:15: expected '{', '[', string, or boolean"
    );
    assert_eq!(
        err("{ 'a': 'b', 'a': 'c' }"),
        "t.json:1:18: duplicate key 'a'"
    );
    assert_eq!(
        err("]"),
        "t.json:1:1: expected '{', '[', string, or boolean"
    );
}

#[test]
fn doc_comment_inside_an_expression() {
    assert_eq!(
        err("{ 'a': ## x\n'b' }"),
        "t.json:1:8: expected '{', '[', string, or boolean"
    );
    // Plain comments are fine anywhere.
    ok("{ 'enum': # c\n 'Abc', 'data': [ # d\n ] }");
}

#[test]
fn big_dicts_still_catch_duplicate_keys() {
    let keys: Vec<String> = (0..40).map(|i| format!("'k{i}': 'int'")).collect();
    let src = format!(
        "{{ 'struct': 'Abc', 'data': {{ {}, 'k7': 'str' }} }}",
        keys.join(", ")
    );
    assert!(err(&src).ends_with("duplicate key 'k7'"), "{}", err(&src));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let src = "[".repeat(100_000);
    let e = qapi_parser::parse_str("t.json", &src, &Options::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Parse);
}

#[test]
fn nesting_as_deep_as_qemu_accepts_is_parsed() {
    // QEMU parses values nested up to 494 deep (its Python recursion limit stops it beyond).
    let n = 494;
    let data = format!("{}{}", "[".repeat(n), "]".repeat(n));
    assert_eq!(
        err(&format!("{{ 'enum': 'Abc', 'data': {data} }}")),
        "t.json: In enum 'Abc':\nt.json:1: 'data' member requires a string name"
    );
    let cond = format!("{}'A'{}", "{ 'not': ".repeat(n), " }".repeat(n));
    let s = ok(&format!("{{ 'enum': 'Abc', 'data': [], 'if': {cond} }}"));
    assert!(dump_user(&s).contains(&format!(
        "    if {}'A'{}\n",
        "{'not': ".repeat(n),
        "}".repeat(n)
    )));
}

// ---- doc comments ----

#[test]
fn doc_block_syntax() {
    assert_eq!(
        err("## x\n# @foo:\n##\n{ 'command': 'foo' }"),
        "t.json:1:1: junk after '##' at start of documentation comment"
    );
    assert_eq!(
        err("##\n# @foo:\n## x\n{ 'command': 'foo' }"),
        "t.json:3:1: junk after '##' at end of documentation comment"
    );
    assert_eq!(err("##\n#@foo:\n##\n"), "t.json:2:1: missing space after #");
    assert_eq!(
        err("##\n# @foo\n##\n"),
        "t.json:2:1: line should end with ':'"
    );
    assert_eq!(err("##\n# @:\n##\n"), "t.json:2:1: name required after '@'");
    assert_eq!(
        err("##\n# @foo:\n{ 'command': 'foo' }"),
        "t.json:3:1: documentation comment must end with '##'"
    );
    // At the end of input: the position of the final newline.
    assert_eq!(
        err("##\n# @foo:\n"),
        "t.json:2:8: documentation comment must end with '##'"
    );
}

#[test]
fn doc_placement() {
    assert_eq!(
        err("##\n# @foo:\n##\n"),
        "t.json:1: documentation for 'foo' is not followed by the definition"
    );
    assert_eq!(
        err("##\n# @foo:\n##\n##\n# text\n##\n{ 'command': 'foo' }"),
        "t.json:1: documentation for 'foo' is not followed by the definition"
    );
    assert_eq!(
        err("##\n# text\n##\n{ 'command': 'foo' }"),
        "t.json:1: definition documentation required"
    );
    assert_eq!(
        err("##\n# @food:\n##\n{ 'command': 'foo' }"),
        "t.json: In command 'foo':\nt.json:4: documentation comment is for 'food'"
    );
    // Whitespace-only lines inside a block are skipped; a free-form block may precede a
    // directive.
    ok("##\n# text\n\n   \n# more\n##\n{ 'pragma': {} }");
}

#[test]
fn doc_free_form_rules() {
    assert_eq!(
        err("##\n# text\n# @a: b\n##\n"),
        "t.json:3:1: '@a:' not allowed in free-form documentation"
    );
    assert_eq!(
        err("##\n# text\n# = Heading\n##\n"),
        "t.json:3:1: '=' heading must come first in a comment block"
    );
    ok("##\n# = Heading\n# text\n##\n");
}

#[test]
fn doc_sections() {
    let cmd = |doc: &str| {
        format!("##\n# @foo:\n{doc}##\n{{ 'command': 'foo', 'data': {{ 'a': 'int' }}, 'returns': 'Abc' }}\n{{ 'struct': 'Abc', 'data': {{}} }}")
    };
    assert_eq!(
        err(&cmd("# Note: x\n")),
        "t.json:3:1: The 'Note' section is no longer supported. Please use rST's '.. note::' \
         or '.. admonition:: notes' directives, or another suitable admonition instead."
    );
    assert_eq!(
        err(&cmd("# Examples: x\n")),
        "t.json:3:1: The 'Examples' section is no longer supported. Please use the \
         '.. qmp-example::' directive, or other suitable markup instead."
    );
    assert_eq!(
        err(&cmd("# = Title\n")),
        "t.json:3:1: unexpected '=' markup in definition documentation"
    );
    assert_eq!(
        err(&cmd("# @a: x\n#\n# Since: 1\n#\n# Since: 2\n")),
        "t.json:7: duplicated 'Since' section"
    );
    assert_eq!(
        err(&cmd("# @a: x\n# TODO:\n")),
        "t.json:4: text required after 'Todo:'"
    );
    assert_eq!(
        err(&cmd("# @a:\n")),
        "t.json:3: text required after 'Member:'"
    );
    assert_eq!(
        err(&cmd("# @a: x\n# @a: y\n")),
        "t.json:4: 'a' parameter name duplicated"
    );
    assert_eq!(
        err(&cmd("# Since: 1\n#\n# @a: x\n")),
        "t.json:5:1: description of '@a:' follows a section"
    );
    assert_eq!(
        err(&cmd("# @a: x\n#\n# Features:\n#\n# text\n")),
        "t.json:7:1: feature descriptions expected"
    );
    assert_eq!(
        err(&cmd("# @a: x\n#\n# Features:\n# @f: x\n# Features:\n")),
        "t.json:7:1: duplicated 'Features:' line"
    );
    // `Note::` is an rST literal marker, not a section; `Since 1.5` is plain text.
    let s = ok(&cmd("# @a: x\n#\n# Note:: x\n#\n# Since 1.5\n"));
    assert_eq!(s.docs()[0].sections.len(), 1);
    assert_eq!(s.docs()[0].sections[0].text, "Note:: x\n\nSince 1.5");
}

#[test]
fn de_indent_quirk() {
    let cmd = |doc: &str| {
        format!("##\n# @foo:\n#\n{doc}##\n{{ 'command': 'foo', 'data': {{ 'a': 'int' }} }}")
    };
    assert_eq!(
        err(&cmd("# @a: one\n#  two\n# three\n")),
        "t.json:6:1: unexpected de-indent (expected at least 1 spaces)"
    );
    // QEMU's flag is set after every line, so a later de-indent ends the section silently.
    let s = ok(&cmd("# @a: one\n#  two\n#  three\n# four\n"));
    let doc = &s.docs()[0];
    assert_eq!(doc.args[0].text, "one\n two\n three");
    assert_eq!(doc.sections[0].text, "four");
    // A zero-indented line right after the tag line ends the section.
    let s = ok(&cmd("# @a: one\n# two\n"));
    assert_eq!(s.docs()[0].args[0].text, "one");
    assert_eq!(s.docs()[0].sections[0].text, "two");
}

#[test]
fn doc_returns_and_errors_placement() {
    assert_eq!(
        err("##\n# @foo:\n# Returns: x\n##\n{ 'command': 'foo' }"),
        "t.json:3: 'Returns' section, but command doesn't return anything"
    );
    assert_eq!(
        err("##\n# @FOO:\n# Returns: x\n##\n{ 'event': 'FOO' }"),
        "t.json:3: 'Returns' section is only valid for commands"
    );
    assert_eq!(
        err("##\n# @Abc:\n# Errors: x\n##\n{ 'struct': 'Abc', 'data': {} }"),
        "t.json:3: 'Errors' section is only valid for commands"
    );
}

#[test]
fn doc_connection() {
    assert_eq!(
        err("##\n# @Abc:\n##\n{ 'enum': 'Abc', 'data': ['a'] }"),
        "t.json: In enum 'Abc':\nt.json:4: value 'a' lacks documentation"
    );
    assert_eq!(
        err(
            "##\n# @Alt:\n# @a: x\n##\n{ 'alternate': 'Alt', 'data': { 'a': 'int', 'b': 'bool' } }"
        ),
        "t.json: In alternate 'Alt':\nt.json:5: branch 'b' lacks documentation"
    );
    assert_eq!(
        err("##\n# @foo:\n##\n{ 'command': 'foo', 'features': ['f'] }"),
        "t.json: In command 'foo':\nt.json:4: feature 'f' lacks documentation"
    );
    assert_eq!(
        err("##\n# @foo:\n# @a: x\n# @b: y\n##\n{ 'command': 'foo' }"),
        "t.json:3: documented members 'a', 'b' do not exist"
    );
    // Features are connected before members.
    assert_eq!(
        err("##\n# @foo:\n##\n{ 'command': 'foo', 'data': { 'a': 'int' }, 'features': ['f'] }"),
        "t.json: In command 'foo':\nt.json:4: feature 'f' lacks documentation"
    );
}

#[test]
fn documentation_exceptions_add_stubs() {
    let s = ok(
        "{ 'pragma': { 'documentation-exceptions': ['foo'] } }\n\
                ##\n# @foo:\n# @b: x\n##\n{ 'command': 'foo', 'data': { 'a': 'int', 'b': 'int' } }",
    );
    let names: Vec<&str> = s.docs()[0].args.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["b", "a"]);
    assert_eq!(s.docs()[0].args[1].text, "");
}

#[test]
fn doc_required_pragma() {
    assert_eq!(
        err("{ 'command': 'foo' }\n{ 'pragma': { 'doc-required': true } }"),
        "t.json: In command 'foo':\nt.json:1: documentation comment required"
    );
}

// ---- pragmas ----

#[test]
fn pragma_errors() {
    assert_eq!(err("{ 'pragma': { 'x': 1 } }"), "t.json:1:20: stray '1'");
    assert_eq!(
        err("{ 'pragma': { 'x': true } }"),
        "t.json:1: unknown pragma 'x'"
    );
    assert_eq!(
        err("{ 'pragma': { 'doc-required': 'yes' } }"),
        "t.json:1: pragma 'doc-required' must be boolean"
    );
    assert_eq!(
        err("{ 'pragma': { 'command-name-exceptions': 'x' } }"),
        "t.json:1: pragma command-name-exceptions must be a list of strings"
    );
    assert_eq!(
        err("{ 'pragma': { 'documentation-exceptions': [true] } }"),
        "t.json:1: pragma documentation-exceptions must be a list of strings"
    );
    assert_eq!(
        err("{ 'pragma': [] }"),
        "t.json:1: value of 'pragma' must be an object"
    );
    assert_eq!(
        err("{ 'pragma': {}, 'x': true }"),
        "t.json:1: invalid 'pragma' directive"
    );
}

#[test]
fn pragmas_apply_everywhere_and_later_ones_replace() {
    // A pragma after the definition still applies.
    ok("{ 'struct': 'Foo', 'data': { 'a_b': 'int' } }\n\
        { 'pragma': { 'member-name-exceptions': ['Foo'] } }");
    // A later value replaces an earlier one.
    assert_eq!(
        err("{ 'pragma': { 'member-name-exceptions': ['Foo'] } }\n\
             { 'struct': 'Foo', 'data': { 'a_b': 'int' } }\n\
             { 'pragma': { 'member-name-exceptions': ['Bar'] } }"),
        "t.json: In struct 'Foo':\nt.json:2: name of 'data' member 'a_b' must not use uppercase or '_'"
    );
}

#[test]
fn member_name_exceptions_do_not_cover_arguments() {
    assert_eq!(
        err("{ 'pragma': { 'member-name-exceptions': ['foo'] } }\n{ 'command': 'foo', 'data': { 'A': 'int' } }"),
        "t.json: In command 'foo':\nt.json:2: name of 'data' member 'A' must not use uppercase or '_'"
    );
}

// ---- names ----

#[test]
fn definition_names() {
    assert_eq!(
        err("{ 'struct': 'foo', 'data': {} }"),
        "t.json: In struct 'foo':\nt.json:1: name of struct must use CamelCase"
    );
    assert_eq!(
        err("{ 'struct': 'FooList', 'data': {} }"),
        "t.json: In struct 'FooList':\nt.json:1: struct name should not end in 'List'"
    );
    assert_eq!(
        err("{ 'event': 'foo' }"),
        "t.json: In event 'foo':\nt.json:1: name of event must not use lowercase or '-'"
    );
    assert_eq!(
        err("{ 'command': 'Foo' }"),
        "t.json: In command 'Foo':\nt.json:1: name of command must not use uppercase or '_'"
    );
    assert_eq!(
        err("{ 'command': 'a_b' }"),
        "t.json: In command 'a_b':\nt.json:1: name of command must not use uppercase or '_'"
    );
    assert_eq!(
        err("{ 'command': 'q-a' }"),
        "t.json: In command 'q-a':\nt.json:1: command has an invalid name"
    );
    assert_eq!(
        err("{ 'struct': true, 'data': {} }"),
        "t.json:1: 'struct' requires a string name"
    );
    ok("{ 'pragma': { 'command-name-exceptions': ['a_b'] } }\n{ 'command': 'a_b' }");
    ok("{ 'command': 'x-a' }\n{ 'event': 'X-EV' }\n{ 'struct': '__org.qemu_X-Abc', 'data': {} }");
    // Only a lower-case `q` followed by a separator is reserved.
    ok("{ 'pragma': { 'member-name-exceptions': ['Abc'] } }\n{ 'struct': 'Abc', 'data': { 'Q-foo': 'int' } }");
    assert_eq!(
        err("{ 'pragma': { 'member-name-exceptions': ['Abc'] } }\n{ 'struct': 'Abc', 'data': { 'q_foo': 'int' } }"),
        "t.json: In struct 'Abc':\nt.json:2: 'data' member 'q_foo' has an invalid name"
    );
}

#[test]
fn member_names() {
    assert_eq!(
        err("{ 'struct': 'Abc', 'data': { '*has-a': 'int' } }"),
        "t.json: In struct 'Abc':\nt.json:1: 'data' member '*has-a' uses reserved name"
    );
    assert_eq!(
        err("{ 'struct': 'Abc', 'data': { 'u': 'int' } }"),
        "t.json: In struct 'Abc':\nt.json:1: 'data' member 'u' uses reserved name"
    );
    assert_eq!(
        err("{ 'struct': 'Abc', 'data': { '_a': 'int' } }"),
        "t.json: In struct 'Abc':\nt.json:1: 'data' member '_a' has an invalid name"
    );
    ok("{ 'struct': 'Abc', 'data': { 'hash': 'int', 'has': 'int', 'x-has-a': 'int' } }");
}

#[test]
fn enum_values_may_start_with_a_digit() {
    let s = ok("{ 'enum': 'Abc', 'data': ['1a', '22', 'x-y'] }");
    match s.get("Abc") {
        Some(Entity::Enum(e)) => assert_eq!(e.values.len(), 3),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err("{ 'enum': 'Abc', 'data': ['-a'] }"),
        "t.json: In enum 'Abc':\nt.json:1: 'data' member '-a' has an invalid name"
    );
    assert_eq!(
        err("{ 'enum': 'Abc', 'data': [ ['a'] ] }"),
        "t.json: In enum 'Abc':\nt.json:1: 'data' member requires a string name"
    );
}

// ---- conditions ----

#[test]
fn if_conditions() {
    let e = |cond: &str| {
        err(&format!(
            "{{ 'struct': 'Abc', 'data': {{}}, 'if': {cond} }}"
        ))
    };
    assert_eq!(e("'foo'"), "t.json: In struct 'Abc':\nt.json:1: 'if' condition 'foo' of struct is not a valid identifier");
    assert_eq!(e("['A']"), "t.json: In struct 'Abc':\nt.json:1: 'if' condition of struct must be a string or an object");
    assert_eq!(
        e("{}"),
        "t.json: In struct 'Abc':\nt.json:1: 'if' condition of struct has conflicting keys"
    );
    assert_eq!(
        e("{ 'all': 'A' }"),
        "t.json: In struct 'Abc':\nt.json:1: 'all' condition of struct must be an array"
    );
    assert_eq!(
        e("{ 'any': [] }"),
        "t.json: In struct 'Abc':\nt.json:1: 'if' condition [] of struct is useless"
    );
    assert_eq!(
        e("{ 'nor': 'A' }"),
        "t.json: In struct 'Abc':\nt.json:1: 'if' condition of struct has unknown key 'nor'\nValid keys are 'all', 'any', 'not'."
    );
    let s = ok("{ 'struct': 'Abc', 'data': {}, 'if': { 'not': { 'any': [ 'A', { 'all': ['B', 'C_1'] } ] } } }");
    let want = IfCond::Not(Box::new(IfCond::Any(vec![
        IfCond::Name("A".into()),
        IfCond::All(vec![IfCond::Name("B".into()), IfCond::Name("C_1".into())]),
    ])));
    assert_eq!(
        s.get("Abc").and_then(|e| e.common().ifcond.clone()),
        Some(want)
    );
    assert!(dump_user(&s).contains("    if {'not': {'any': ['A', {'all': ['B', 'C_1']}]}}\n"));
}

// ---- features ----

#[test]
fn feature_limit_is_hit_by_the_65th() {
    let names: Vec<String> = (0..62).map(|i| format!("'f{i}'")).collect();
    // 62 names plus the two special ones: exactly 64.
    let base = format!(
        "{{ 'command': 'c', 'features': [ {}, 'deprecated' ] }}",
        names.join(", ")
    );
    ok(&base);
    // A member feature is the 65th.
    assert_eq!(
        err(&format!("{base}\n{{ 'struct': 'Abc', 'data': {{ 'm': {{ 'type': 'int', 'features': ['f3', 'extra'] }} }} }}")),
        "t.json: In struct 'Abc':\nt.json:2: Maximum of 64 schema features is permitted"
    );
}

#[test]
fn feature_rules() {
    assert_eq!(
        err("{ 'command': 'c', 'features': 'f' }"),
        "t.json: In command 'c':\nt.json:1: 'features' must be an array"
    );
    assert_eq!(
        err("{ 'command': 'c', 'features': [ { 'if': 'A' } ] }"),
        "t.json: In command 'c':\nt.json:1: 'features' member misses key 'name'"
    );
    assert_eq!(err("{ 'command': 'c', 'features': [ 'Fa' ] }"), "t.json: In command 'c':\nt.json:1: name of 'features' member 'Fa' must not use uppercase or '_'");
    assert_eq!(
        err("{ 'command': 'c', 'features': [ '__a.b_x', '__a-b_x' ] }"),
        "t.json: In command 'c':\nt.json:1: feature '__a-b_x' collides with feature '__a.b_x'"
    );
    assert_eq!(
        err("{ 'struct': 'Abc', 'data': { 'm': { 'type': 'int', 'features': [ '__a.b_x', '__a-b_x' ] } } }"),
        "t.json: In struct 'Abc':\nt.json:1: feature '__a-b_x' of type 'm' collides with feature '__a.b_x' of type 'm'"
    );
    assert_eq!(
        err("{ 'enum': 'Abc', 'data': [], 'features': ['unstable'] }"),
        "t.json: In enum 'Abc':\nt.json:1: feature 'unstable' is not supported for types"
    );
    ok("{ 'command': 'c', 'features': ['deprecated', 'int', 'if', 'name'] }");
}

#[test]
fn empty_definition_name_has_no_context_line() {
    // QEMU prints `In <meta> '<name>':` only for a non-empty name.
    assert_eq!(
        err("{ 'struct': '', 'data': {} }"),
        "t.json:1: struct has an invalid name"
    );
    assert_eq!(
        err("{ 'command': '' }"),
        "t.json:1: command has an invalid name"
    );
}

// ---- definitions ----

#[test]
fn keys() {
    assert_eq!(
        err("{ 'struct': 'Abc', 'data': {}, 'gen': false }"),
        "t.json: In struct 'Abc':\nt.json:1: struct has unknown key 'gen'\nValid keys are 'base', 'data', 'features', 'if', 'struct'."
    );
    assert_eq!(
        err("{ 'union': 'Abc' }"),
        "t.json: In union 'Abc':\nt.json:1: union misses keys 'base', 'data', 'discriminator'"
    );
    assert_eq!(
        err("{ 'type': 'Abc', 'data': {} }"),
        "t.json:1: expression must have exactly one key 'enum', 'struct', 'union', 'alternate', 'command', 'event'"
    );
}

#[test]
fn flags() {
    assert_eq!(
        err("{ 'command': 'c', 'gen': true }"),
        "t.json: In command 'c':\nt.json:1: flag 'gen' may only use false value"
    );
    assert_eq!(
        err("{ 'command': 'c', 'success-response': 'no' }"),
        "t.json: In command 'c':\nt.json:1: flag 'success-response' may only use false value"
    );
    assert_eq!(
        err("{ 'command': 'c', 'coroutine': false }"),
        "t.json: In command 'c':\nt.json:1: flag 'coroutine' may only use true value"
    );
    // A truthy non-boolean 'boxed' takes the boxed path first.
    assert_eq!(
        err("{ 'command': 'c', 'boxed': 'x' }"),
        "t.json: In command 'c':\nt.json:1: 'boxed': true requires 'data'"
    );
}

#[test]
fn alternate_conflict_sets() {
    let alt = |pre: &str, data: &str| {
        err(&format!(
            "{pre}{{ 'alternate': 'Alt', 'data': {{ {data} }} }}"
        ))
    };
    let want = "t.json: In alternate 'Alt':\nt.json:";
    assert!(alt("", "'a': 'str', 'b': 'number'")
        .ends_with("branch 'b' can't be distinguished from 'a'"));
    assert!(
        alt("", "'a': 'bool', 'b': 'str'").ends_with("branch 'b' can't be distinguished from 'a'")
    );
    assert!(alt("", "'a': ['int'], 'b': ['str']")
        .ends_with("branch 'b' can't be distinguished from 'a'"));
    assert!(alt("", "'a': 'int', 'b': 'size'").starts_with(want));
    assert!(alt(
        "{ 'enum': 'Onf', 'data': ['on', 'x'] }\n",
        "'a': 'bool', 'b': 'Onf'"
    )
    .ends_with("branch 'b' can't be distinguished from 'a'"));
    assert!(alt(
        "{ 'enum': 'Num', 'data': ['x', '1x'] }\n",
        "'a': 'Num', 'b': 'int'"
    )
    .ends_with("branch 'b' can't be distinguished from 'a'"));
    assert!(alt(
        "{ 'struct': 'Sa', 'data': {} }\n{ 'struct': 'Sb', 'data': {} }\n",
        "'a': 'Sa', 'b': 'Sb'"
    )
    .ends_with("branch 'b' can't be distinguished from 'a'"));
    assert!(alt("", "'a': 'any'").ends_with("branch 'a' cannot use built-in type 'any'"));
    // An ordinary enum goes with numbers and booleans.
    ok("{ 'enum': 'Plain', 'data': ['x', 'y'] }\n{ 'alternate': 'Alt', 'data': { 'a': 'Plain', 'b': 'number', 'c': 'bool', 'd': 'null' } }");
    assert_eq!(
        err("{ 'alternate': 'Alt', 'data': [] }"),
        "t.json: In alternate 'Alt':\nt.json:1: 'data' must not be empty"
    );
}

#[test]
fn union_rules() {
    let pre = "{ 'enum': 'En', 'data': ['a', 'b'] }\n{ 'struct': 'Sa', 'data': { 'x': 'int' } }\n";
    let u = |rest: &str| err(&format!("{pre}{{ 'union': 'Un', {rest} }}"));
    let at = "t.json: In union 'Un':\nt.json:3: ";
    assert_eq!(
        u("'base': { 'kind': 'En' }, 'discriminator': 'type', 'data': {}"),
        format!("{at}discriminator 'type' is not a member of 'base'")
    );
    assert_eq!(
        u("'base': { 'kind': 'int' }, 'discriminator': 'kind', 'data': {}"),
        format!("{at}discriminator member 'kind' of 'base' must be of enum type")
    );
    assert_eq!(
        u("'base': { '*kind': 'En' }, 'discriminator': 'kind', 'data': {}"),
        format!("{at}discriminator member 'kind' of 'base' must not be optional")
    );
    assert_eq!(
        u("'base': { 'kind': 'En' }, 'discriminator': 'kind', 'data': { 'c': 'Sa' }"),
        format!("{at}branch 'c' is not a value of enum type 'En'")
    );
    assert_eq!(
        u("'base': { 'kind': 'En' }, 'discriminator': 'kind', 'data': { 'a': 'int' }"),
        format!("{at}branch 'a' cannot use built-in type 'int'")
    );
    assert_eq!(
        u("'base': { 'kind': 'En' }, 'discriminator': 'kind', 'data': { 'a': 'Nope' }"),
        format!("{at}branch 'a' uses unknown type 'Nope'")
    );
    assert_eq!(
        u("'base': { 'kind': 'En', 'x': 'str' }, 'discriminator': 'kind', 'data': { 'a': 'Sa' }"),
        format!("{at}member 'x' of type 'Sa' collides with base member 'x'")
    );
    assert_eq!(
        u("'base': 'int', 'discriminator': 'kind', 'data': {}"),
        format!("{at}'base' requires a struct type, built-in type 'int' isn't")
    );
    // Uncovered values get q_empty branches with the value's condition.
    let s = ok("{ 'enum': 'En', 'data': [ 'a', { 'name': 'b', 'if': 'B' } ] }\n\
                { 'struct': 'Sa', 'data': {} }\n\
                { 'union': 'Un', 'base': { 'kind': 'En' }, 'discriminator': 'kind', 'data': { 'a': 'Sa' } }");
    assert!(
        dump_user(&s).contains("    tag kind\n    case a: Sa\n    case b: q_empty\n        if B\n")
    );
}

/// Each branch is checked against the union's own members only, not against other branches,
/// whether the set of names seen is small or big enough to be indexed.
#[test]
fn branches_are_checked_each_on_their_own() {
    for base_members in [2, 40] {
        let base: String = (0..base_members)
            .map(|i| format!(", 'm{i}': 'int'"))
            .collect();
        let schema = format!(
            "{{ 'enum': 'En', 'data': [ 'a', 'b', 'c' ] }}\n\
             {{ 'struct': 'Sa', 'data': {{ 'x': 'int', 'y': 'int' }} }}\n\
             {{ 'struct': 'Sb', 'data': {{ 'y': 'int', 'x': 'int' }} }}\n\
             {{ 'struct': 'Sc', 'data': {{ 'm1': 'int' }} }}\n\
             {{ 'union': 'Un', 'base': {{ 'kind': 'En'{base} }}, 'discriminator': 'kind',\n\
               'data': {{ 'a': 'Sa', 'b': 'Sb' }} }}"
        );
        ok(&schema);
        let clash = schema.replace("'b': 'Sb'", "'b': 'Sb', 'c': 'Sc'");
        assert_eq!(
            err(&clash),
            "t.json: In union 'Un':\nt.json:5: member 'm1' of type 'Sc' collides with base member 'm1'"
        );
    }
}

#[test]
fn base_and_type_resolution() {
    assert_eq!(err("{ 'struct': 'Aa', 'base': 'Bb', 'data': {} }\n{ 'struct': 'Bb', 'base': 'Aa', 'data': {} }"), "t.json: In struct 'Aa':\nt.json:1: object Aa contains itself");
    assert_eq!(
        err("{ 'struct': 'Aa', 'base': 'Bb', 'data': {} }"),
        "t.json: In struct 'Aa':\nt.json:1: 'base' uses unknown type 'Bb'"
    );
    assert_eq!(
        err("{ 'struct': 'Aa', 'data': { 'l': ['Nope'] } }"),
        "t.json: In struct 'Aa':\nt.json:1: struct uses unknown type 'Nope'"
    );
    assert_eq!(
        err("{ 'command': 'c', 'data': { 'a': 'Nope' } }"),
        "t.json: In command 'c':\nt.json:1: parameter 'a' uses unknown type 'Nope'"
    );
    assert_eq!(
        err("{ 'event': 'EV', 'data': { 'a': 'Nope' } }"),
        "t.json: In event 'EV':\nt.json:1: parameter 'a' uses unknown type 'Nope'"
    );
    assert_eq!(
        err("{ 'struct': 'Ba', 'data': { 'name': 'int' } }\n{ 'struct': 'Aa', 'base': 'Ba', 'data': { 'name': 'str' } }"),
        "t.json: In struct 'Aa':\nt.json:2: member 'name' collides with member 'name' of type 'Ba'"
    );
}

#[test]
fn commands_and_events() {
    assert_eq!(
        err("{ 'command': 'c', 'returns': 'int' }"),
        "t.json: In command 'c':\nt.json:1: command's 'returns' cannot take built-in type 'int'"
    );
    assert_eq!(
        err("{ 'command': 'c', 'returns': ['int'] }"),
        "t.json: In command 'c':\nt.json:1: command's 'returns' cannot take array type ['int']"
    );
    ok("{ 'pragma': { 'command-returns-exceptions': ['c'] } }\n{ 'command': 'c', 'returns': ['int'] }");
    ok("{ 'struct': 'Sa', 'data': {} }\n{ 'command': 'c', 'returns': ['Sa'] }");
    assert_eq!(
        err("{ 'struct': 'Ba', 'data': { 'x': { 'type': 'int', 'if': 'C' } } }\n{ 'struct': 'Ar', 'base': 'Ba', 'data': {} }\n{ 'command': 'c', 'data': 'Ar' }"),
        "t.json: In command 'c':\nt.json:3: conditional command arguments require 'boxed': true"
    );
    assert_eq!(
        err("{ 'event': 'EV', 'data': { 'x': { 'type': 'int', 'if': 'C' } } }"),
        "t.json: In event 'EV':\nt.json:1: conditional event arguments require 'boxed': true"
    );
    assert_eq!(
        err("{ 'event': 'EV', 'data': 'int' }"),
        "t.json: In event 'EV':\nt.json:1: event's 'data' cannot take built-in type 'int'"
    );
    assert_eq!(
        err("{ 'command': 'c', 'allow-oob': true, 'coroutine': true }"),
        "t.json: In command 'c':\nt.json:1: flags 'allow-oob' and 'coroutine' are incompatible"
    );
}

#[test]
fn redefinitions() {
    assert_eq!(
        err("{ 'command': 'int' }"),
        "t.json: In command 'int':\nt.json:1: built-in type 'int' is already defined"
    );
    assert_eq!(
        err("{ 'enum': 'QType', 'data': [] }"),
        "t.json: In enum 'QType':\nt.json:1: enum type 'QType' is already defined"
    );
    assert_eq!(
        err("{ 'struct': 'Abc', 'data': {} }\n{ 'enum': 'Abc', 'data': [] }"),
        "t.json: In enum 'Abc':\nt.json:2: 'Abc' is already defined\nt.json: In struct 'Abc':\nt.json:1: previous definition"
    );
}

#[test]
fn definitions_on_one_line_share_the_context() {
    // QEMU keeps the definition context on the line's source info, so a later definition
    // on the same line names the line in schema-check errors.
    assert_eq!(
        err("{ 'struct': 'Aa', 'data': { 'x': 'Nope' } } { 'struct': 'Bb', 'data': {} }"),
        "t.json: In struct 'Bb':\nt.json:1: member 'x' of type 'Aa' uses unknown type 'Nope'"
    );
}

#[test]
fn empty_type_name_means_no_type() {
    // QEMU tests base, argument and return type names for truth: '' is no type at all.
    let s = ok("{ 'command': 'c', 'data': '', 'returns': '' }\n\
         { 'command': 'd', 'data': '', 'boxed': true }\n\
         { 'event': 'EV', 'data': '' }\n\
         { 'struct': 'Abc', 'base': '', 'data': {} }");
    let d = dump_user(&s);
    assert!(d.contains("command c None -> None\n"), "{d}");
    assert!(
        d.contains("command d None -> None\n    gen=True success_response=True boxed=True"),
        "{d}"
    );
    assert!(d.contains("event EV None\n"), "{d}");
    assert!(d.contains("object Abc\n") && !d.contains("    base"), "{d}");
    assert_eq!(
        err("{ 'union': 'Abc', 'base': '', 'discriminator': 'type', 'data': {} }"),
        "t.json: In union 'Abc':\nt.json:1: discriminator 'type' is not a member of 'base'"
    );
    assert_eq!(
        err("##\n# @c:\n# @a: x\n##\n{ 'command': 'c', 'data': '' }"),
        "t.json:3: documented member 'a' does not exist"
    );
    // Member and branch types are looked up as given.
    assert_eq!(
        err("{ 'struct': 'Abc', 'data': { 'a': '' } }"),
        "t.json: In struct 'Abc':\nt.json:1: member 'a' uses unknown type ''"
    );
}

// ---- model and dump ----

#[test]
fn empty_enum_prefix_is_kept_but_not_dumped() {
    let s = ok("{ 'enum': 'Abc', 'prefix': '', 'data': [ 'a' ] }");
    assert_eq!(dump_user(&s), "module t.json\nenum Abc\n    member a\n");
    let Some(Entity::Enum(e)) = s.entities().iter().find(|e| e.name() == "Abc") else {
        panic!("no enum Abc");
    };
    // QEMU's generator uses an empty prefix as given; only the dump leaves it out.
    assert_eq!(e.prefix.as_deref(), Some(""));
}

#[test]
fn implicit_types_and_arrays_are_placed_like_qemu() {
    let s = ok("{ 'command': 'c', 'data': { 'a': ['Sa'] } }\n{ 'struct': 'Sa', 'data': {} }");
    let names: Vec<&str> = s
        .entities()
        .iter()
        .map(|e| e.name())
        .filter(|n| !n.is_empty())
        .collect();
    let tail = &names[names.len() - 4..];
    assert_eq!(tail, ["SaList", "q_obj_c-arg", "c", "Sa"]);
    let d = dump_user(&s);
    assert!(
        d.starts_with("module t.json\narray SaList Sa\nobject q_obj_c-arg\n"),
        "{d}"
    );
    match s.get("c") {
        Some(Entity::Command(c)) => assert_eq!(c.arg_type.as_deref(), Some("q_obj_c-arg")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn implicit_types_say_what_made_them() {
    let s = ok("{ 'command': 'c', 'data': { 'a': ['Sa'] } }\n\
         { 'event': 'EV', 'data': { 'b': 'int' } }\n\
         { 'enum': 'Ek', 'data': ['x', 'y'] }\n\
         { 'union': 'Un', 'base': { 'kind': 'Ek' }, 'discriminator': 'kind', 'data': { 'x': 'Sa' } }\n\
         { 'struct': 'Sa', 'data': {} }");
    let made = |name: &str| s.get(name).and_then(Entity::implicit).cloned();
    let of = |owner: &str| owner.to_string();
    assert_eq!(
        made("q_obj_c-arg"),
        Some(Implicit::Arguments { of: of("c") })
    );
    assert_eq!(
        made("q_obj_EV-arg"),
        Some(Implicit::Arguments { of: of("EV") })
    );
    assert_eq!(
        made("q_obj_Un-base"),
        Some(Implicit::UnionBase { of: of("Un") })
    );
    assert_eq!(made("SaList"), Some(Implicit::Array));
    assert_eq!(made("q_empty"), Some(Implicit::Empty));
    for named in ["c", "EV", "Ek", "Un", "Sa", "QType", "int"] {
        assert_eq!(made(named), None, "{named}");
    }
}

#[test]
fn empty_data_means_no_arguments() {
    let s = ok("{ 'command': 'c', 'data': {} }\n{ 'event': 'EV', 'data': {} }");
    assert!(dump_user(&s).contains("command c None -> None\n"));
    assert!(dump_user(&s).contains("event EV None\n    boxed=False\n"));
}

#[test]
fn report_shows_the_line_and_a_caret() {
    let e = qapi_parser::parse_str(
        "t.json",
        "{ 'enum': 'Abc',\n  'data': [ 'a' 'b' ] }",
        &Options::default(),
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "t.json:2:17: expected ',' or ']'");
    let r = e.report();
    assert!(r.contains("expected ',' or ']'"), "{r}");
    assert!(r.contains("t.json:2:17"), "{r}");
    assert!(r.contains("'data': [ 'a' 'b' ] }"), "{r}");
    assert!(r.contains('^'), "{r}");
}
