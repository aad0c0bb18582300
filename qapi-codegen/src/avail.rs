//! Effective conditions: a definition exists only where every type it needs exists.
//!
//! QEMU's front end does not check that `if` conditions are consistent: an unconditional
//! union may have a base or tag enum defined under `if`. Code emitted under the definitions'
//! own conditions would then fail to compile in some configurations. So each definition is
//! emitted under its own condition AND the effective conditions of the types it needs: its
//! base, a union's tag enum, array elements, command arguments and return type, event data,
//! and the types of members and branches without an `if` of their own. A member or branch
//! with its own `if` is optional to its container: it takes its type's condition itself
//! (unless the container already has it) instead of passing it on. Conditions are kept as
//! flat conjunctions without repeats; types on a cycle settle at a fixpoint.

use qapi_parser::{Entity, IfCond, ObjectType, Schema};
use std::borrow::Cow;
use std::collections::HashMap;

/// The effective condition of every entity, computed once per schema.
pub struct Availability<'s> {
    schema: &'s Schema,
    /// Entity position by name.
    index: HashMap<&'s str, usize>,
    /// Conjuncts of each entity's effective condition (its own first), by position.
    atoms: Vec<Vec<IfCond>>,
    /// The effective condition of entities that inherit one, by position.
    inherited: HashMap<usize, IfCond>,
}

impl<'s> Availability<'s> {
    pub fn new(schema: &'s Schema) -> Self {
        let entities = &schema.entities();
        let index: HashMap<&'s str, usize> = entities
            .iter()
            .enumerate()
            .filter(|(_, e)| !matches!(e, Entity::Include(_)))
            .map(|(i, e)| (e.name(), i))
            .collect();
        let mut atoms: Vec<Vec<IfCond>> = entities
            .iter()
            .map(|e| {
                let mut out = Vec::new();
                if let Some(c) = &e.common().ifcond {
                    flatten(c, &mut out);
                }
                out
            })
            .collect();
        let own: Vec<usize> = atoms.iter().map(Vec::len).collect();
        let needs: Vec<Vec<usize>> = entities
            .iter()
            .map(|e| {
                needs(schema, e)
                    .into_iter()
                    .filter_map(|n| index.get(n).copied())
                    .collect()
            })
            .collect();
        // Conjunct lists only grow and draw from a finite set, so this ends; a cycle adds
        // nothing once its members share their conditions.
        let mut changed = true;
        while changed {
            changed = false;
            for (i, deps) in needs.iter().enumerate() {
                for &d in deps {
                    for k in 0..atoms[d].len() {
                        if d != i && !implied(&atoms[d][k], &atoms[i]) {
                            let atom = atoms[d][k].clone();
                            atoms[i].push(atom);
                            changed = true;
                        }
                    }
                }
            }
        }
        // An inherited conjunct may be implied by one inherited later (`any(A, B)`, then `A`).
        for (list, &own) in atoms.iter_mut().zip(&own) {
            let mut k = own;
            while k < list.len() {
                let atom = list.remove(k);
                if implied(&atom, list) {
                    continue;
                }
                list.insert(k, atom);
                k += 1;
            }
        }
        let inherited = atoms
            .iter()
            .enumerate()
            .filter(|(i, a)| a.len() > own[*i])
            .map(|(i, a)| (i, conjunction(a.clone())))
            .collect();
        Availability {
            schema,
            index,
            atoms,
            inherited,
        }
    }

    /// The effective condition of the entity called `name` (`None`: unconditional or unknown).
    pub fn of(&self, name: &str) -> Option<&IfCond> {
        let &i = self.index.get(name)?;
        self.inherited
            .get(&i)
            .or(self.schema.entities()[i].common().ifcond.as_ref())
    }

    /// Whether the entity called `name` has a condition beyond its own.
    pub fn is_inherited(&self, name: &str) -> bool {
        self.index
            .get(name)
            .is_some_and(|i| self.inherited.contains_key(i))
    }

    /// The condition of a part (member, branch) of `container` whose type is `ty`: its own
    /// condition and the conjuncts of `ty`'s that neither it nor the container has.
    pub fn part<'a>(
        &self,
        own: Option<&'a IfCond>,
        ty: &str,
        container: &str,
    ) -> Option<Cow<'a, IfCond>> {
        let empty: &[IfCond] = &[];
        let atoms_of = |name: &str| self.index.get(name).map_or(empty, |&i| &self.atoms[i]);
        let (needed, held) = (atoms_of(ty), atoms_of(container));
        let mut all = Vec::new();
        if let Some(c) = own {
            flatten(c, &mut all);
        }
        let before = all.len();
        for atom in needed {
            if !implied(atom, held) && !implied(atom, &all) {
                all.push(atom.clone());
            }
        }
        if all.len() == before {
            own.map(Cow::Borrowed)
        } else {
            Some(Cow::Owned(conjunction(all)))
        }
    }
}

/// Appends the conjuncts of `cond` to `out` (nested `all`s flattened, repeats dropped).
fn flatten(cond: &IfCond, out: &mut Vec<IfCond>) {
    match cond {
        IfCond::All(items) => items.iter().for_each(|c| flatten(c, out)),
        c if !out.contains(c) => out.push(c.clone()),
        _ => {}
    }
}

/// Whether `cond` holds whenever all of `held` do, by the plain rules: it is one of them, or
/// an `any` with an operand that holds, or an `all` whose operands all hold.
fn implied(cond: &IfCond, held: &[IfCond]) -> bool {
    held.contains(cond)
        || match cond {
            IfCond::Any(items) => items.iter().any(|c| implied(c, held)),
            IfCond::All(items) => items.iter().all(|c| implied(c, held)),
            _ => false,
        }
}

/// The condition that all of `atoms` (at least one) hold.
fn conjunction(mut atoms: Vec<IfCond>) -> IfCond {
    if atoms.len() == 1 {
        atoms.remove(0)
    } else {
        IfCond::All(atoms)
    }
}

/// The types an entity cannot exist without.
fn needs<'s>(schema: &'s Schema, e: &'s Entity) -> Vec<&'s str> {
    let mut out = Vec::new();
    match e {
        Entity::Array(a) => out.push(a.element.as_str()),
        Entity::Object(o) => {
            out.extend(o.base.as_deref());
            out.extend(
                o.members
                    .iter()
                    .filter(|m| m.ifcond.is_none())
                    .map(|m| m.ty.as_str()),
            );
            union_needs(schema, o, &mut out);
        }
        Entity::Alternate(a) => out.extend(
            a.variants
                .iter()
                .filter(|v| v.ifcond.is_none())
                .map(|v| v.ty.as_str()),
        ),
        Entity::Command(c) => {
            out.extend(c.arg_type.as_deref());
            out.extend(c.ret_type.as_deref());
        }
        Entity::Event(ev) => out.extend(ev.arg_type.as_deref()),
        Entity::Builtin(_) | Entity::Enum(_) | Entity::Include(_) => {}
    }
    out
}

/// A union needs its tag enum and the types of the branches that are unconditional (neither
/// the branch nor its tag value has an `if`).
fn union_needs<'s>(schema: &'s Schema, o: &'s ObjectType, out: &mut Vec<&'s str>) {
    let Some(variants) = &o.variants else {
        return;
    };
    let tag = schema
        .all_members(&o.common.name)
        .into_iter()
        .find(|m| m.name == variants.tag)
        .map(|m| m.ty.as_str());
    let tag_enum = match tag.and_then(|t| schema.get(t)) {
        Some(Entity::Enum(e)) => Some(e),
        _ => None,
    };
    out.extend(tag);
    for v in &variants.variants {
        let value_cond = tag_enum
            .and_then(|e| e.values.iter().find(|x| x.name == v.name))
            .and_then(|x| x.ifcond.as_ref());
        if v.ifcond.is_none() && value_cond.is_none() {
            out.push(v.ty.as_str());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> IfCond {
        IfCond::Name(n.to_owned())
    }

    #[test]
    fn conjunctions_are_flat_and_without_repeats() {
        let mut out = vec![name("A")];
        flatten(
            &IfCond::All(vec![
                name("A"),
                IfCond::All(vec![name("B"), name("A")]),
                IfCond::Not(Box::new(name("C"))),
            ]),
            &mut out,
        );
        assert_eq!(
            out,
            [name("A"), name("B"), IfCond::Not(Box::new(name("C")))]
        );
        assert_eq!(conjunction(vec![name("A")]), name("A"));
    }

    #[test]
    fn implication_is_syntactic() {
        let held = [name("A"), name("B")];
        assert!(implied(&name("A"), &held));
        assert!(implied(&IfCond::Any(vec![name("C"), name("A")]), &held));
        assert!(implied(&IfCond::All(vec![name("B"), name("A")]), &held));
        assert!(!implied(&IfCond::Any(vec![name("C"), name("D")]), &held));
        assert!(!implied(&IfCond::Not(Box::new(name("C"))), &held));
    }
}
