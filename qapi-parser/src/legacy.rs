//! Legacy-dialect helpers: `if` conditions written as C preprocessor expressions, as QEMU
//! 2.12-6.1 schemas did (`'if': 'defined(CONFIG_SPICE) && !defined(CONFIG_X)'`), the name
//! shape of QEMU 2.4, and flat unions with a string discriminator (QEMU 1.7).

use crate::build::Built;
use crate::diag::Diag;
use crate::error::Error;
use crate::expr::is_cond_identifier;
use crate::model::*;

/// QEMU 2.4's name shape, `[A-Za-z_][A-Za-z0-9_.-]*` (earlier releases checked none).
pub(crate) fn old_name(name: &str) -> bool {
    let mut b = name.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// QEMU 1.7 let a flat union's discriminator be a `str` member of its base: the union read
/// it as the implicit enum `<Union>Kind` of its branch names. The modern spelling: that
/// enum, and an implicit base `q_obj_<Union>-base` with the base's members, the
/// discriminator typed by the enum. Both go right before the union.
pub(crate) fn string_discriminators(b: &mut Built, diag: &Diag<'_>) -> Result<(), Error> {
    let mut i = 0;
    while i < b.entities.len() {
        let Some((kind, base)) = rewrite_of(b, i) else {
            i += 1;
            continue;
        };
        let Entity::Object(union) = &mut b.entities[i] else {
            unreachable!("rewrite_of only answers for unions");
        };
        let base_name = base.common.name.clone();
        union.base = Some(base_name);
        let loc = b.locs[i];
        b.entities.insert(i, Entity::Object(base));
        b.entities.insert(i, Entity::Enum(kind));
        b.locs.insert(i, loc);
        b.locs.insert(i, loc);
        let mut index = std::collections::HashMap::with_capacity(b.index.len() + 2);
        for (j, e) in b.entities.iter().enumerate() {
            if matches!(e, Entity::Include(_)) {
                continue;
            }
            if index.insert(e.name().to_string(), EntityId(j)).is_some() {
                let at = loc.unwrap_or(crate::source::Loc { file: 0, line: 0 });
                return Err(diag.error(at, format!("'{}' is already defined", e.name())));
            }
        }
        b.index = index;
        i += 3;
    }
    Ok(())
}

/// For a union at `i` whose discriminator is a `str` member of its named base: the enum
/// and the implicit base that replace it.
fn rewrite_of(b: &Built, i: usize) -> Option<(EnumType, ObjectType)> {
    let Entity::Object(union) = &b.entities[i] else {
        return None;
    };
    let variants = union.variants.as_ref()?;
    let base = union.base.as_deref()?;
    // Members of the base chain, base first; a chain that does not resolve is the checker's.
    let mut chain = Vec::new();
    let mut next = Some(base);
    while let Some(name) = next {
        match b.index.get(name).map(|&id| &b.entities[id]) {
            Some(Entity::Object(o)) if o.variants.is_none() && !o.is_implicit() => {
                if chain.len() > b.entities.len() {
                    return None;
                }
                chain.push(o);
                next = o.base.as_deref();
            }
            _ => return None,
        }
    }
    let mut members: Vec<Member> = chain
        .iter()
        .rev()
        .flat_map(|o| o.members.iter().cloned())
        .collect();
    let tag = members.iter_mut().find(|m| m.name == variants.tag)?;
    if tag.ty != "str" {
        return None;
    }
    let name = &union.common.name;
    let kind_name = format!("{name}Kind");
    tag.ty = kind_name.clone();
    let common = |name: String, implicit| Common {
        name,
        implicit: Some(implicit),
        doc: None,
        features: Vec::new(),
        ..union.common.clone()
    };
    let values = variants
        .variants
        .iter()
        .map(|v| EnumValue {
            name: v.name.clone(),
            ifcond: v.ifcond.clone(),
            features: Vec::new(),
        })
        .collect();
    let kind = EnumType {
        common: common(kind_name, Implicit::UnionKind { of: name.clone() }),
        values,
        prefix: None,
    };
    let base = ObjectType {
        common: common(
            format!("q_obj_{name}-base"),
            Implicit::UnionBase { of: name.clone() },
        ),
        base: None,
        members,
        variants: None,
    };
    Some((kind, base))
}

/// Parses `defined(X)`, `X`, `!c`, `c && c`, `c || c` and parentheses into a condition.
pub(crate) fn c_condition(text: &str) -> Option<IfCond> {
    let mut p = CondParser { s: text, pos: 0 };
    let cond = p.or()?;
    p.skip_space();
    (p.pos == text.len()).then_some(cond)
}

struct CondParser<'s> {
    s: &'s str,
    pos: usize,
}

impl CondParser<'_> {
    fn skip_space(&mut self) {
        let rest = &self.s[self.pos..];
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        if self.s[self.pos..].starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    fn ident(&mut self) -> Option<String> {
        self.skip_space();
        let rest = &self.s[self.pos..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let name = &rest[..len];
        if !is_cond_identifier(name) {
            return None;
        }
        self.pos += len;
        Some(name.to_string())
    }

    fn or(&mut self) -> Option<IfCond> {
        let mut items = vec![self.and()?];
        while self.eat("||") {
            items.push(self.and()?);
        }
        Some(combine(items, IfCond::Any))
    }

    fn and(&mut self) -> Option<IfCond> {
        let mut items = vec![self.unary()?];
        while self.eat("&&") {
            items.push(self.unary()?);
        }
        Some(combine(items, IfCond::All))
    }

    fn unary(&mut self) -> Option<IfCond> {
        if self.eat("!") {
            return Some(IfCond::Not(Box::new(self.unary()?)));
        }
        if self.eat("(") {
            let inner = self.or()?;
            return self.eat(")").then_some(inner);
        }
        if self.eat("defined") {
            let paren = self.eat("(");
            let name = self.ident()?;
            if paren && !self.eat(")") {
                return None;
            }
            return Some(IfCond::Name(name));
        }
        self.ident().map(IfCond::Name)
    }
}

fn combine(mut items: Vec<IfCond>, op: fn(Vec<IfCond>) -> IfCond) -> IfCond {
    if items.len() == 1 {
        items.remove(0)
    } else {
        op(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> IfCond {
        IfCond::Name(n.into())
    }

    #[test]
    fn c_conditions() {
        assert_eq!(
            c_condition("defined(CONFIG_SPICE)"),
            Some(name("CONFIG_SPICE"))
        );
        assert_eq!(
            c_condition("defined(A) && !defined(B)"),
            Some(IfCond::All(vec![
                name("A"),
                IfCond::Not(Box::new(name("B")))
            ]))
        );
        assert_eq!(
            c_condition("defined(A) || (defined(B) && C)"),
            Some(IfCond::Any(vec![
                name("A"),
                IfCond::All(vec![name("B"), name("C")])
            ]))
        );
        assert_eq!(c_condition("defined(a)"), None);
        assert_eq!(c_condition("defined(A) &&"), None);
        assert_eq!(c_condition("A B"), None);
    }
}
