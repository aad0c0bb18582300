//! Legacy mode (`Options::legacy`): the dialect of QEMU 1.x-7.x schemas, mapped to the model
//! the modern spelling would give. Strict mode must keep rejecting all of it.

mod common;

use common::{dump_user, err, legacy_err, legacy_ok};
use qapi_parser::{Doc, Entity, IfCond, Implicit, SectionKind};

/// A doc's sections as (kind, text) pairs.
fn sections(doc: &Doc) -> Vec<(SectionKind, &str)> {
    doc.sections
        .iter()
        .map(|s| (s.kind, s.text.as_str()))
        .collect()
}

#[test]
fn type_keyword_is_a_struct() {
    let src = "{ 'type': 'Foo', 'data': { 'a': 'int' } }";
    let s = legacy_ok(src);
    assert!(matches!(s.get("Foo"), Some(Entity::Object(o)) if o.variants.is_none()));
    assert!(err(src).ends_with("expression must have exactly one key 'enum', 'struct', 'union', 'alternate', 'command', 'event'"));
}

#[test]
fn yes_and_no_flags() {
    let src = "{ 'command': 'c', 'success-response': 'no', 'gen': 'no' }";
    match legacy_ok(src).get("c") {
        Some(Entity::Command(c)) => assert!(!c.success_response && !c.gen),
        other => panic!("{other:?}"),
    }
    assert!(err(src).ends_with("flag 'gen' may only use false value"));
}

#[test]
fn relaxed_name_cases() {
    let src = "{ 'enum': 'Abc', 'data': ['VALUE_1'] }\n\
               { 'struct': 'Def', 'data': { 'Some_Member': 'Abc' } }\n\
               { 'command': 'do_it', 'data': { 'Arg': 'int' } }";
    legacy_ok(src);
    assert!(err(src).ends_with("name of 'data' member 'VALUE_1' must not use uppercase or '_'"));
    // Shapes are still checked (QEMU 2.4's: '.' and a leading '_' are fine, '/' is not).
    assert!(legacy_err("{ 'struct': 'Def', 'data': { 'a/b': 'int' } }")
        .to_string()
        .ends_with("'data' member 'a/b' has an invalid name"));
}

#[test]
fn scalar_returns_need_no_pragma() {
    let s = legacy_ok("{ 'enum': 'Abc', 'data': ['a'] }\n{ 'command': 'c', 'returns': 'Abc' }\n{ 'command': 'd', 'returns': ['int'] }");
    assert!(
        matches!(s.get("d"), Some(Entity::Command(c)) if c.ret_type.as_deref() == Some("intList"))
    );
}

#[test]
fn simple_unions_are_desugared_like_qemu_6() {
    let s = legacy_ok(
        "{ 'struct': 'Foo', 'data': { 'a': 'int' } }\n\
         { 'union': 'Un', 'data': { 'foo': 'Foo', 'num': { 'type': 'int', 'if': 'N' }, 'lst': ['str'] } }",
    );
    let d = dump_user(&s);
    assert!(
        d.contains("object q_obj_Foo-wrapper\n    member data: Foo optional=False\n"),
        "{d}"
    );
    assert!(
        d.contains("object q_obj_strList-wrapper\n    member data: strList optional=False\n"),
        "{d}"
    );
    assert!(
        d.contains("enum UnKind\n    member foo\n    member num\n        if N\n    member lst\n"),
        "{d}"
    );
    assert!(d.contains(
        "object q_obj_Un-base\n    member type: UnKind optional=False\nobject Un\n    base q_obj_Un-base\n    tag type\n    case foo: q_obj_Foo-wrapper\n    case num: q_obj_int-wrapper\n        if N\n"
    ), "{d}");
    let made = |name: &str| s.get(name).and_then(Entity::implicit).cloned();
    assert_eq!(
        made("q_obj_strList-wrapper"),
        Some(Implicit::Wrapper {
            wrapped: "strList".into()
        })
    );
    assert_eq!(
        made("UnKind"),
        Some(Implicit::UnionKind { of: "Un".into() })
    );
    assert_eq!(
        made("q_obj_Un-base"),
        Some(Implicit::UnionBase { of: "Un".into() })
    );
    // Strict mode wants base and discriminator.
    assert!(err("{ 'union': 'Un', 'data': { 'a': 'int' } }")
        .ends_with("union misses keys 'base', 'discriminator'"));
}

#[test]
fn anonymous_unions_are_alternates() {
    let s = legacy_ok("{ 'struct': 'Def', 'data': {} }\n{ 'union': 'Ref', 'discriminator': {}, 'data': { 'definition': 'Def', 'reference': 'str' } }");
    match s.get("Ref") {
        Some(Entity::Alternate(a)) => assert_eq!(a.variants.len(), 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn c_preprocessor_conditions() {
    let s = legacy_ok(
        "{ 'struct': 'Foo', 'data': {}, 'if': 'defined(CONFIG_A) && !defined(CONFIG_B)' }\n\
                       { 'struct': 'Bar', 'data': {}, 'if': ['defined(CONFIG_C)', 'CONFIG_D'] }",
    );
    let name = |n: &str| IfCond::Name(n.into());
    assert_eq!(
        s.get("Foo").and_then(|e| e.common().ifcond.clone()),
        Some(IfCond::All(vec![
            name("CONFIG_A"),
            IfCond::Not(Box::new(name("CONFIG_B")))
        ]))
    );
    assert_eq!(
        s.get("Bar").and_then(|e| e.common().ifcond.clone()),
        Some(IfCond::All(vec![name("CONFIG_C"), name("CONFIG_D")]))
    );
    assert!(
        err("{ 'struct': 'Foo', 'data': {}, 'if': 'defined(CONFIG_A)' }")
            .ends_with("'if' condition 'defined(CONFIG_A)' of struct is not a valid identifier")
    );
}

#[test]
fn old_spellings_of_any_and_old_pragmas() {
    let s = legacy_ok("{ 'command': 'qom-get', 'data': { 'path': 'str', '*props': '**' }, 'returns': 'visitor', 'gen': 'no' }\n\
                       { 'pragma': { 'returns-whitelist': ['qom-get'], 'name-case-whitelist': ['Abc'] } }");
    assert!(
        matches!(s.get("qom-get"), Some(Entity::Command(c)) if c.ret_type.as_deref() == Some("any"))
    );
    assert_eq!(s.pragmas().command_returns_exceptions, ["qom-get"]);
    assert_eq!(s.pragmas().member_name_exceptions, ["Abc"]);
    assert!(err("{ 'pragma': { 'returns-whitelist': [] } }")
        .ends_with("unknown pragma 'returns-whitelist'"));
}

#[test]
fn old_doc_blocks() {
    let src = "##\n# @Foo\n#\n# A struct.\n#\n# @a: #optional an int\n#       more\n\
               # @size: stale\n#\n# Notes: be careful\n#        always\n#\n# Since 1.5\n# ##\n\
               { 'type': 'Foo', 'data': { '*a': 'int', 'b': 'str' } }\n\
               ##\n# @bar:\n# Returns: nothing\n##\n{ 'command': 'bar' }\n\
               ####################\n\
               ##\n# Example: x\n##\n";
    let s = legacy_ok(src);
    let foo = s.doc_of(s.get("Foo").expect("Foo")).expect("documented");
    assert_eq!(foo.body, "A struct.");
    let args: Vec<(&str, &str)> = foo
        .args
        .iter()
        .map(|a| (a.name.as_str(), a.text.as_str()))
        .collect();
    // `#optional` is dropped, the stale `@size` (unrelated to `b`) is dropped, `b` gets a stub.
    assert_eq!(args, [("a", "an int\n      more"), ("b", "")]);
    let kinds = sections(foo);
    assert_eq!(
        kinds,
        [
            (SectionKind::Plain, "Notes: be careful\n       always"),
            (SectionKind::Since, "1.5")
        ]
    );
    let bar = s.doc_of(s.get("bar").expect("bar")).expect("documented");
    assert_eq!(bar.sections[0].kind, SectionKind::Plain);
    assert_eq!(bar.sections[0].text, "Returns: nothing");
    assert_eq!(s.docs().last().map(|d| d.body.as_str()), Some("Example: x"));
}

#[test]
fn definition_names_of_any_case_and_conditional_arguments() {
    // QEMU 5.2 checked only the shape of definition names, and allowed conditional command
    // arguments without 'boxed' until 9.1.
    let src = "{ 'event': 'oops' }\n\
               { 'command': 'TestCmd', 'data': { 'a': { 'type': 'int', 'if': 'X' } } }\n\
               { 'struct': 'lower_struct', 'data': {} }";
    let s = legacy_ok(src);
    assert!(s.get("oops").is_some() && s.get("TestCmd").is_some());
    assert!(err(src).ends_with("name of event must not use lowercase or '-'"));
    assert!(
        err("{ 'command': 'test-cmd', 'data': { 'a': { 'type': 'int', 'if': 'X' } } }")
            .ends_with("conditional command arguments require 'boxed': true")
    );
    // Shapes and the 'List' suffix are still checked.
    assert!(legacy_err("{ 'event': 'a/b' }")
        .to_string()
        .ends_with("event has an invalid name"));
    assert!(legacy_err("{ 'struct': 'FooList', 'data': {} }")
        .to_string()
        .ends_with("struct name should not end in 'List'"));
}

#[test]
fn example_sections_become_qmp_example_directives() {
    // QEMU before 8.0: `Example:` starts a literal section that runs to the next tagged
    // section; the modern spelling is a `.. qmp-example::` directive.
    let src =
        "##\n# @bar:\n#\n# Does it.\n#\n# Example:\n#\n# 1. Do it\n# -> { \"execute\": \"bar\" }\n\
               # <- { \"return\": {} }\n#\n# Since: 1.5\n#\n# Examples: -> {}\n##\n\
               { 'command': 'bar' }\n";
    let s = legacy_ok(src);
    let bar = s.doc_of(s.get("bar").expect("bar")).expect("documented");
    // Without member descriptions before it, the first example is part of the body, as the
    // directive would be in a modern doc comment.
    assert_eq!(
        bar.body,
        "Does it.\n\n.. qmp-example::\n\n    1. Do it\n    -> { \"execute\": \"bar\" }\n    <- { \"return\": {} }"
    );
    let kinds = sections(bar);
    assert_eq!(
        kinds,
        [
            (SectionKind::Since, "1.5"),
            (SectionKind::Plain, ".. qmp-example::\n\n    -> {}"),
        ]
    );
    assert!(err(src).contains("The 'Example' section is no longer supported"));
}

#[test]
fn doc_without_symbol_line_documents_the_next_definition() {
    let s = legacy_ok(
        "##\n#\n# Does things.\n#\n# @id: an id\n#\n# Returns: the id\n##\n\
                       { 'command': 'c', 'data': { 'id': 'int' }, 'returns': 'int' }\n\
                       ##\n# = Heading\n##\n{ 'command': 'd' }",
    );
    let c = s.doc_of(s.get("c").expect("c")).expect("documented");
    assert_eq!(c.symbol.as_deref(), Some("c"));
    assert_eq!(c.body, "Does things.");
    assert_eq!(c.args[0].name, "id");
    // A heading block stays free-form; the definition after it has no doc.
    assert!(s.doc_of(s.get("d").expect("d")).is_none());
}

#[test]
fn unterminated_and_misplaced_blocks() {
    // A block running into the definition ends there; a symbol block before another block
    // stays on its own.
    let s = legacy_ok("##\n# @lonely:\n##\n##\n# @c:\n# Does things.\n{ 'command': 'c' }");
    assert_eq!(s.docs().len(), 2);
    assert_eq!(
        s.doc_of(s.get("c").expect("c")).map(|d| d.body.as_str()),
        Some("Does things.")
    );
}

#[test]
fn mismatched_symbol_is_attached() {
    let s = legacy_ok("##\n# @FooBar:\n# @a: x\n##\n{ 'enum': 'Foobar', 'data': ['a'] }");
    let doc = s
        .doc_of(s.get("Foobar").expect("enum"))
        .expect("documented");
    assert_eq!(doc.symbol.as_deref(), Some("Foobar"));
}
