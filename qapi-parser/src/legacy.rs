//! Legacy-dialect helpers: `if` conditions written as C preprocessor expressions, as QEMU
//! 2.12-6.1 schemas did (`'if': 'defined(CONFIG_SPICE) && !defined(CONFIG_X)'`).

use crate::expr::is_cond_identifier;
use crate::model::IfCond;

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
