//! The text format of QEMU's front-end test harness (`tests/qapi-schema/test-qapi.py`):
//! every module's entities, then every doc block.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::model::*;

/// Renders `schema` exactly as QEMU's test harness prints it on success.
pub fn dump(schema: &Schema) -> String {
    let mut out = String::with_capacity(schema.entities().len() * 64);
    let mut by_module: HashMap<&str, Vec<&Entity>> = HashMap::new();
    for e in schema.entities() {
        by_module.entry(&*e.common().module).or_default().push(e);
    }
    for module in schema.modules() {
        let _ = writeln!(out, "module {module}");
        for e in by_module.get(module.as_str()).into_iter().flatten() {
            entity(&mut out, schema, e);
        }
    }
    for doc in schema.docs() {
        match &doc.symbol {
            Some(s) => {
                let _ = writeln!(out, "doc symbol={s}");
            }
            None => out.push_str("doc freeform\n"),
        }
        let _ = writeln!(out, "    body=\n{}", doc.body);
        for a in &doc.args {
            let _ = writeln!(out, "    arg={}\n{}", a.name, a.text);
        }
        for f in &doc.features {
            let _ = writeln!(out, "    feature={}\n{}", f.name, f.text);
        }
        for s in &doc.sections {
            let _ = writeln!(out, "    section={}\n{}", section_name(s.kind), s.text);
        }
    }
    out
}

fn section_name(kind: SectionKind) -> &'static str {
    match kind {
        SectionKind::Plain => "Plain",
        SectionKind::Returns => "Returns",
        SectionKind::Errors => "Errors",
        SectionKind::Since => "Since",
        SectionKind::Todo => "Todo",
    }
}

fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// A condition as the harness prints it: a plain name as is, anything else as Python's
/// `repr` of the dict.
pub(crate) fn cond_repr(c: &IfCond) -> String {
    fn inner(c: &IfCond, top: bool) -> String {
        let list = |v: &[IfCond]| {
            v.iter()
                .map(|c| inner(c, false))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match c {
            IfCond::Name(n) if top => n.clone(),
            IfCond::Name(n) => format!("'{n}'"),
            IfCond::All(v) => format!("{{'all': [{}]}}", list(v)),
            IfCond::Any(v) => format!("{{'any': [{}]}}", list(v)),
            IfCond::Not(c) => format!("{{'not': {}}}", inner(c, false)),
        }
    }
    inner(c, true)
}

fn ifcond(out: &mut String, c: &Option<IfCond>, indent: usize) {
    if let Some(c) = c {
        let _ = writeln!(out, "{:indent$}if {}", "", cond_repr(c));
    }
}

fn features(out: &mut String, features: &[Feature], indent: usize) {
    for f in features {
        let _ = writeln!(out, "{:indent$}feature {}", "", f.name);
        ifcond(out, &f.ifcond, indent + 4);
    }
}

fn cases(out: &mut String, tag: &str, variants: &[Variant]) {
    let _ = writeln!(out, "    tag {tag}");
    for v in variants {
        let _ = writeln!(out, "    case {}: {}", v.name, v.ty);
        ifcond(out, &v.ifcond, 8);
    }
}

fn entity(out: &mut String, schema: &Schema, e: &Entity) {
    match e {
        Entity::Builtin(_) => {}
        Entity::Include(i) => {
            let _ = writeln!(out, "include {}", i.target);
        }
        Entity::Enum(en) => {
            let _ = writeln!(out, "enum {}", en.common.name);
            // QEMU's dump tests the prefix for truth: an empty one is not printed.
            if let Some(p) = en.prefix.as_deref().filter(|p| !p.is_empty()) {
                let _ = writeln!(out, "    prefix {p}");
            }
            for v in &en.values {
                let _ = writeln!(out, "    member {}", v.name);
                ifcond(out, &v.ifcond, 8);
                features(out, &v.features, 8);
            }
            ifcond(out, &en.common.ifcond, 4);
            features(out, &en.common.features, 4);
        }
        Entity::Array(a) => {
            if a.common.info.is_none() {
                return; // built-in arrays are not printed
            }
            let _ = writeln!(out, "array {} {}", a.common.name, a.element);
            let element_cond = schema
                .get(&a.element)
                .and_then(|e| e.common().ifcond.clone());
            ifcond(out, &element_cond, 4);
        }
        Entity::Object(o) => {
            let _ = writeln!(out, "object {}", o.common.name);
            if let Some(b) = &o.base {
                let _ = writeln!(out, "    base {b}");
            }
            for m in &o.members {
                let _ = writeln!(
                    out,
                    "    member {}: {} optional={}",
                    m.name,
                    m.ty,
                    py_bool(m.optional)
                );
                ifcond(out, &m.ifcond, 8);
                features(out, &m.features, 8);
            }
            if let Some(v) = &o.variants {
                cases(out, &v.tag, &v.variants);
            }
            ifcond(out, &o.common.ifcond, 4);
            features(out, &o.common.features, 4);
        }
        Entity::Alternate(a) => {
            let _ = writeln!(out, "alternate {}", a.common.name);
            cases(out, "type", &a.variants);
            ifcond(out, &a.common.ifcond, 4);
            features(out, &a.common.features, 4);
        }
        Entity::Command(c) => {
            let _ = writeln!(
                out,
                "command {} {} -> {}",
                c.common.name,
                c.arg_type.as_deref().unwrap_or("None"),
                c.ret_type.as_deref().unwrap_or("None")
            );
            let _ = writeln!(
                out,
                "    gen={} success_response={} boxed={} oob={} preconfig={}{}",
                py_bool(c.gen),
                py_bool(c.success_response),
                py_bool(c.boxed),
                py_bool(c.allow_oob),
                py_bool(c.allow_preconfig),
                if c.coroutine { " coroutine=True" } else { "" }
            );
            ifcond(out, &c.common.ifcond, 4);
            features(out, &c.common.features, 4);
        }
        Entity::Event(ev) => {
            let _ = writeln!(
                out,
                "event {} {}",
                ev.common.name,
                ev.arg_type.as_deref().unwrap_or("None")
            );
            let _ = writeln!(out, "    boxed={}", py_bool(ev.boxed));
            ifcond(out, &ev.common.ifcond, 4);
            features(out, &ev.common.features, 4);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_print_like_python_repr() {
        let n = |s: &str| IfCond::Name(s.into());
        assert_eq!(cond_repr(&n("A")), "A");
        assert_eq!(
            cond_repr(&IfCond::All(vec![n("A"), n("B")])),
            "{'all': ['A', 'B']}"
        );
        assert_eq!(
            cond_repr(&IfCond::Not(Box::new(IfCond::Any(vec![
                IfCond::Not(Box::new(n("A"))),
                n("B")
            ])))),
            "{'not': {'any': [{'not': 'A'}, 'B']}}"
        );
    }
}
