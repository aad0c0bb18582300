//! Small builders for the syn nodes the emitters assemble directly.
//!
//! Building the syntax tree (rather than `quote!` tokens that syn then parses back) skips
//! tokenizing and parsing, which was most of the generation time. Each builder yields the node
//! syn's parser would produce for the same source, so prettyplease prints it the same way.

use proc_macro2::{Ident, Span, TokenStream};
use syn::punctuated::Punctuated;
use syn::token;
use syn::{
    AngleBracketedGenericArguments, Arm, AttrStyle, Attribute, BinOp, Block, Expr, ExprLit,
    ExprPath, FieldValue, GenericArgument, Lit, LitStr, Local, LocalInit, Macro, MacroDelimiter,
    Member, Meta, MetaList, MetaNameValue, Pat, PatIdent, Path, PathArguments, PathSegment, Stmt,
    Type, TypePath, TypeReference,
};

thread_local! {
    /// Delimiter tokens are `Copy`, but making a fresh one allocates (an empty token stream
    /// for its span), and the output needs tens of thousands.
    static DELIMITERS: (token::Paren, token::Brace, token::Bracket) = Default::default();
}

fn paren_token() -> token::Paren {
    DELIMITERS.with(|d| d.0)
}

fn brace_token() -> token::Brace {
    DELIMITERS.with(|d| d.1)
}

fn bracket_token() -> token::Bracket {
    DELIMITERS.with(|d| d.2)
}

/// An identifier (not a keyword; see `names::ident` for names from the schema).
pub fn ident(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}

/// A path from its source text, e.g. `qapi_runtime::ser::optional` or `::serde_json::Value`.
pub fn path(text: &str) -> Path {
    let (leading_colon, rest) = match text.strip_prefix("::") {
        Some(rest) => (Some(Default::default()), rest),
        None => (None, text),
    };
    Path {
        leading_colon,
        segments: rest
            .split("::")
            .map(|s| PathSegment::from(ident(s)))
            .collect(),
    }
}

/// `base::name` for a path and an identifier (`Self::Variant`, `Tag::Value`).
pub fn path_join(base: &Path, name: &Ident) -> Path {
    let mut out = base.clone();
    out.segments.push(PathSegment::from(name.clone()));
    out
}

/// A one-segment path.
pub fn path_ident(name: Ident) -> Path {
    Path::from(name)
}

/// `<args>` after a path segment.
fn angle_args(args: Vec<Type>, turbofish: bool) -> PathArguments {
    PathArguments::AngleBracketed(AngleBracketedGenericArguments {
        colon2_token: turbofish.then(Default::default),
        lt_token: Default::default(),
        args: args.into_iter().map(GenericArgument::Type).collect(),
        gt_token: Default::default(),
    })
}

/// The type named by a path.
pub fn ty(path: Path) -> Type {
    Type::Path(TypePath { qself: None, path })
}

/// `Base<args>` (`Option<T>`, `Vec<T>`, `Result<T, E>`).
pub fn generic(base: &Path, args: Vec<Type>) -> Type {
    let mut path = base.clone();
    if let Some(last) = path.segments.last_mut() {
        last.arguments = angle_args(args, false);
    }
    ty(path)
}

/// `&T`.
pub fn ty_ref(inner: Type) -> Type {
    Type::Reference(TypeReference {
        and_token: Default::default(),
        lifetime: None,
        mutability: None,
        elem: Box::new(inner),
    })
}

/// `()`.
pub fn unit_type() -> Type {
    Type::Tuple(syn::TypeTuple {
        paren_token: paren_token(),
        elems: Punctuated::new(),
    })
}

/// A path expression.
pub fn expr_path(path: Path) -> Expr {
    Expr::Path(ExprPath {
        attrs: Vec::new(),
        qself: None,
        path,
    })
}

/// A local variable or other one-word expression (`self`, `members`, `value`).
pub fn var(name: &Ident) -> Expr {
    expr_path(Path::from(name.clone()))
}

/// A local named by text.
pub fn var_named(name: &str) -> Expr {
    expr_path(Path::from(ident(name)))
}

fn lit(lit: Lit) -> Expr {
    Expr::Lit(ExprLit {
        attrs: Vec::new(),
        lit,
    })
}

/// A string literal.
pub fn lit_str(value: &str) -> Expr {
    lit(Lit::Str(LitStr::new(value, Span::call_site())))
}

/// `true` or `false`.
pub fn lit_bool(value: bool) -> Expr {
    lit(Lit::Bool(syn::LitBool::new(value, Span::call_site())))
}

/// An unsuffixed integer literal.
pub fn lit_int(value: usize) -> Expr {
    lit(Lit::Int(syn::LitInt::new(
        &value.to_string(),
        Span::call_site(),
    )))
}

/// `func(args)`.
pub fn call(func: Expr, args: Vec<Expr>) -> Expr {
    Expr::Call(syn::ExprCall {
        attrs: Vec::new(),
        func: Box::new(func),
        paren_token: paren_token(),
        args: args.into_iter().collect(),
    })
}

/// `path(args)` for a path given as text.
pub fn call_path(path_text: &str, args: Vec<Expr>) -> Expr {
    call(expr_path(path(path_text)), args)
}

/// `receiver.name(args)`.
pub fn method(receiver: Expr, name: &str, args: Vec<Expr>) -> Expr {
    method_turbofish(receiver, ident(name), Vec::new(), args)
}

/// `receiver.name(args)` for a method named by an identifier (possibly raw).
pub fn method_ident(receiver: Expr, name: &Ident, args: Vec<Expr>) -> Expr {
    method_turbofish(receiver, name.clone(), Vec::new(), args)
}

/// `receiver.name::<types>(args)` (no turbofish when `types` is empty).
pub fn method_turbofish(receiver: Expr, name: Ident, types: Vec<Type>, args: Vec<Expr>) -> Expr {
    let turbofish = (!types.is_empty()).then(|| AngleBracketedGenericArguments {
        colon2_token: Some(Default::default()),
        lt_token: Default::default(),
        args: types.into_iter().map(GenericArgument::Type).collect(),
        gt_token: Default::default(),
    });
    Expr::MethodCall(syn::ExprMethodCall {
        attrs: Vec::new(),
        receiver: Box::new(receiver),
        dot_token: Default::default(),
        method: name,
        turbofish,
        paren_token: paren_token(),
        args: args.into_iter().collect(),
    })
}

/// `base.field`.
pub fn field(base: Expr, name: &Ident) -> Expr {
    Expr::Field(syn::ExprField {
        attrs: Vec::new(),
        base: Box::new(base),
        dot_token: Default::default(),
        member: Member::Named(name.clone()),
    })
}

/// `expr?`.
pub fn try_(expr: Expr) -> Expr {
    Expr::Try(syn::ExprTry {
        attrs: Vec::new(),
        expr: Box::new(expr),
        question_token: Default::default(),
    })
}

/// `&expr`.
pub fn reference(expr: Expr) -> Expr {
    Expr::Reference(syn::ExprReference {
        attrs: Vec::new(),
        and_token: Default::default(),
        mutability: None,
        expr: Box::new(expr),
    })
}

/// `return expr`.
pub fn return_(expr: Expr) -> Expr {
    Expr::Return(syn::ExprReturn {
        attrs: Vec::new(),
        return_token: Default::default(),
        expr: Some(Box::new(expr)),
    })
}

/// `left op right`.
pub fn binary(left: Expr, op: BinOp, right: Expr) -> Expr {
    Expr::Binary(syn::ExprBinary {
        attrs: Vec::new(),
        left: Box::new(left),
        op,
        right: Box::new(right),
    })
}

/// `(expr)`.
pub fn paren(expr: Expr) -> Expr {
    Expr::Paren(syn::ExprParen {
        attrs: Vec::new(),
        paren_token: paren_token(),
        expr: Box::new(expr),
    })
}

/// `expr as T`.
pub fn cast(expr: Expr, to: Type) -> Expr {
    Expr::Cast(syn::ExprCast {
        attrs: Vec::new(),
        expr: Box::new(expr),
        as_token: Default::default(),
        ty: Box::new(to),
    })
}

/// `|pat| body`.
pub fn closure(pat: Pat, body: Expr) -> Expr {
    Expr::Closure(syn::ExprClosure {
        attrs: Vec::new(),
        lifetimes: None,
        constness: None,
        movability: None,
        asyncness: None,
        capture: None,
        or1_token: Default::default(),
        inputs: std::iter::once(pat).collect(),
        or2_token: Default::default(),
        output: syn::ReturnType::Default,
        body: Box::new(body),
    })
}

/// A macro call expression, `name!(tokens)` (`cfg!(..)`).
pub fn macro_expr(name: &str, tokens: TokenStream) -> Expr {
    Expr::Macro(syn::ExprMacro {
        attrs: Vec::new(),
        mac: macro_call(path(name), tokens),
    })
}

fn macro_call(path: Path, tokens: TokenStream) -> Macro {
    Macro {
        path,
        bang_token: Default::default(),
        delimiter: MacroDelimiter::Paren(paren_token()),
        tokens,
    }
}

/// A macro call item, `path!(tokens);`.
pub fn macro_item(attrs: Vec<Attribute>, path_text: &str, tokens: TokenStream) -> syn::Item {
    syn::Item::Macro(syn::ItemMacro {
        attrs,
        ident: None,
        mac: macro_call(path(path_text), tokens),
        semi_token: Some(Default::default()),
    })
}

/// `{ stmts }` as an expression.
pub fn block_expr(stmts: Vec<Stmt>) -> Expr {
    Expr::Block(syn::ExprBlock {
        attrs: Vec::new(),
        label: None,
        block: block(stmts),
    })
}

/// `{ stmts }`.
pub fn block(stmts: Vec<Stmt>) -> Block {
    Block {
        brace_token: brace_token(),
        stmts,
    }
}

/// `expr;`.
pub fn stmt(expr: Expr) -> Stmt {
    Stmt::Expr(expr, Some(Default::default()))
}

/// `#[attrs] expr;` (the attributes go on the expression, as syn puts them).
pub fn stmt_with(attrs: Vec<Attribute>, expr: Expr) -> Stmt {
    stmt(with_attrs(attrs, expr))
}

/// The tail expression of a block.
pub fn tail(expr: Expr) -> Stmt {
    Stmt::Expr(expr, None)
}

/// `#[attrs] let pat = init;`.
pub fn let_(attrs: Vec<Attribute>, pat: Pat, init: Expr) -> Stmt {
    Stmt::Local(Local {
        attrs,
        let_token: Default::default(),
        pat,
        init: Some(LocalInit {
            eq_token: Default::default(),
            expr: Box::new(init),
            diverge: None,
        }),
        semi_token: Default::default(),
    })
}

/// Puts outer attributes on an expression.
pub fn with_attrs(attrs: Vec<Attribute>, mut expr: Expr) -> Expr {
    if !attrs.is_empty() {
        if let Some(slot) = expr_attrs(&mut expr) {
            *slot = attrs;
        }
    }
    expr
}

fn expr_attrs(expr: &mut Expr) -> Option<&mut Vec<Attribute>> {
    Some(match expr {
        Expr::Try(e) => &mut e.attrs,
        Expr::Call(e) => &mut e.attrs,
        Expr::MethodCall(e) => &mut e.attrs,
        Expr::If(e) => &mut e.attrs,
        Expr::Assign(e) => &mut e.attrs,
        Expr::Binary(e) => &mut e.attrs,
        Expr::Path(e) => &mut e.attrs,
        Expr::Block(e) => &mut e.attrs,
        _ => return None,
    })
}

/// `match expr { arms }`.
pub fn match_(expr: Expr, arms: Vec<Arm>) -> Expr {
    Expr::Match(syn::ExprMatch {
        attrs: Vec::new(),
        match_token: Default::default(),
        expr: Box::new(expr),
        brace_token: brace_token(),
        arms,
    })
}

/// `#[attrs] pat => body,`.
pub fn arm(attrs: Vec<Attribute>, pat: Pat, body: Expr) -> Arm {
    let comma = (!matches!(body, Expr::Block(_))).then(Default::default);
    Arm {
        attrs,
        pat,
        guard: None,
        fat_arrow_token: Default::default(),
        body: Box::new(body),
        comma,
    }
}

/// `Path { fields }` as an expression.
pub fn struct_expr(path: Path, fields: Vec<FieldValue>) -> Expr {
    Expr::Struct(syn::ExprStruct {
        attrs: Vec::new(),
        qself: None,
        path,
        brace_token: brace_token(),
        fields: fields.into_iter().collect(),
        dot2_token: None,
        rest: None,
    })
}

/// `#[attrs] name: expr` in a struct expression.
pub fn field_value(attrs: Vec<Attribute>, name: &Ident, expr: Expr) -> FieldValue {
    FieldValue {
        attrs,
        member: Member::Named(name.clone()),
        colon_token: Some(Default::default()),
        expr,
    }
}

/// A binding pattern.
pub fn pat_ident(name: Ident) -> Pat {
    Pat::Ident(PatIdent {
        attrs: Vec::new(),
        by_ref: None,
        mutability: None,
        ident: name,
        subpat: None,
    })
}

/// `ref name`.
pub fn pat_ref_ident(name: Ident) -> Pat {
    Pat::Ident(PatIdent {
        attrs: Vec::new(),
        by_ref: Some(Default::default()),
        mutability: None,
        ident: name,
        subpat: None,
    })
}

/// `_`.
pub fn pat_wild() -> Pat {
    Pat::Wild(syn::PatWild {
        attrs: Vec::new(),
        underscore_token: Default::default(),
    })
}

/// A path pattern (`Self::Variant`, `Tag::Value`).
pub fn pat_path(path: Path) -> Pat {
    Pat::Path(ExprPath {
        attrs: Vec::new(),
        qself: None,
        path,
    })
}

/// `path(pats)`.
pub fn pat_tuple_struct(path: Path, elems: Vec<Pat>) -> Pat {
    Pat::TupleStruct(syn::PatTupleStruct {
        attrs: Vec::new(),
        qself: None,
        path,
        paren_token: paren_token(),
        elems: elems.into_iter().collect(),
    })
}

/// `()`.
pub fn pat_unit() -> Pat {
    Pat::Tuple(syn::PatTuple {
        attrs: Vec::new(),
        paren_token: paren_token(),
        elems: Punctuated::new(),
    })
}

/// `path { names, .. }`.
pub fn pat_struct_rest(path: Path, names: &[&str]) -> Pat {
    Pat::Struct(syn::PatStruct {
        attrs: Vec::new(),
        qself: None,
        path,
        brace_token: brace_token(),
        fields: names
            .iter()
            .map(|n| syn::FieldPat {
                attrs: Vec::new(),
                member: Member::Named(ident(n)),
                colon_token: None,
                pat: Box::new(pat_ident(ident(n))),
            })
            .collect(),
        rest: Some(syn::PatRest {
            attrs: Vec::new(),
            dot2_token: Default::default(),
        }),
    })
}

/// A string literal pattern.
pub fn pat_str(value: &str) -> Pat {
    Pat::Lit(ExprLit {
        attrs: Vec::new(),
        lit: Lit::Str(LitStr::new(value, Span::call_site())),
    })
}

/// `pat: T`.
pub fn pat_typed(pat: Pat, of: Type) -> Pat {
    Pat::Type(syn::PatType {
        attrs: Vec::new(),
        pat: Box::new(pat),
        colon_token: Default::default(),
        ty: Box::new(of),
    })
}

fn outer(meta: Meta) -> Attribute {
    Attribute {
        pound_token: Default::default(),
        style: AttrStyle::Outer,
        bracket_token: bracket_token(),
        meta,
    }
}

/// `#[doc = "text"]`.
pub fn doc_attr(text: &str) -> Attribute {
    thread_local! {
        static DOC: Ident = ident("doc");
    }
    outer(Meta::NameValue(MetaNameValue {
        path: path_ident(DOC.with(Ident::clone)),
        eq_token: Default::default(),
        value: lit(Lit::Str(doc_literal(text))),
    }))
}

/// A doc string as a raw literal (`r#"..."#`): prettyplease prints docs by their value, so
/// the spelling does not show, and a raw literal skips escaping here and unescaping there
/// (doc text is most of the output). Falls back to an escaped literal for text a raw
/// literal cannot hold (a lone carriage return).
fn doc_literal(text: &str) -> LitStr {
    // Enough `#`s that no `"` in the text followed by them ends the literal early.
    let bytes = text.as_bytes();
    let mut hashes = 0;
    for (i, _) in bytes.iter().enumerate().filter(|(_, b)| **b == b'"') {
        let run = bytes[i + 1..].iter().take_while(|b| **b == b'#').count();
        hashes = hashes.max(run + 1);
    }
    let mut repr = String::with_capacity(text.len() + 3 + 2 * hashes);
    repr.push('r');
    repr.extend(std::iter::repeat_n('#', hashes));
    repr.push('"');
    repr.push_str(text);
    repr.push('"');
    repr.extend(std::iter::repeat_n('#', hashes));
    match repr.parse::<proc_macro2::Literal>().map(Lit::new) {
        Ok(Lit::Str(lit)) => lit,
        _ => LitStr::new(text, Span::call_site()),
    }
}

/// `#[name(tokens)]` (`cfg`, `derive`, `allow`, `cfg_attr`).
pub fn attr_list(name: &str, tokens: TokenStream) -> Attribute {
    outer(Meta::List(MetaList {
        path: path_ident(ident(name)),
        delimiter: MacroDelimiter::Paren(paren_token()),
        tokens,
    }))
}

/// `#[name]`.
pub fn attr_word(name: &str) -> Attribute {
    outer(Meta::Path(path_ident(ident(name))))
}

/// `pub`.
pub fn public() -> syn::Visibility {
    syn::Visibility::Public(Default::default())
}

/// `#[attrs] pub name: T` (a struct field).
pub fn pub_field(attrs: Vec<Attribute>, name: Ident, of: Type) -> syn::Field {
    named_field(attrs, public(), name, of)
}

/// `#[attrs] vis name: T`.
pub fn named_field(
    attrs: Vec<Attribute>,
    vis: syn::Visibility,
    name: Ident,
    of: Type,
) -> syn::Field {
    syn::Field {
        attrs,
        vis,
        mutability: syn::FieldMutability::None,
        ident: Some(name),
        colon_token: Some(Default::default()),
        ty: of,
    }
}

/// `{ fields }` of a struct or struct variant.
pub fn fields_named(fields: Vec<syn::Field>) -> syn::Fields {
    syn::Fields::Named(syn::FieldsNamed {
        brace_token: brace_token(),
        named: fields.into_iter().collect(),
    })
}

/// `(T)` of a tuple variant.
pub fn fields_tuple(of: Type) -> syn::Fields {
    syn::Fields::Unnamed(syn::FieldsUnnamed {
        paren_token: paren_token(),
        unnamed: std::iter::once(syn::Field {
            attrs: Vec::new(),
            vis: syn::Visibility::Inherited,
            mutability: syn::FieldMutability::None,
            ident: None,
            colon_token: None,
            ty: of,
        })
        .collect(),
    })
}

/// `#[attrs] pub struct Name { fields }`.
pub fn struct_item(attrs: Vec<Attribute>, name: Ident, fields: Vec<syn::Field>) -> syn::Item {
    syn::Item::Struct(syn::ItemStruct {
        attrs,
        vis: public(),
        struct_token: Default::default(),
        ident: name,
        generics: Default::default(),
        fields: fields_named(fields),
        semi_token: None,
    })
}

/// `#[attrs] Name fields` (an enum variant).
pub fn variant(attrs: Vec<Attribute>, name: Ident, fields: syn::Fields) -> syn::Variant {
    syn::Variant {
        attrs,
        ident: name,
        fields,
        discriminant: None,
    }
}

/// `#[attrs] pub enum Name { variants }`.
pub fn enum_item(attrs: Vec<Attribute>, name: Ident, variants: Vec<syn::Variant>) -> syn::Item {
    syn::Item::Enum(syn::ItemEnum {
        attrs,
        vis: public(),
        enum_token: Default::default(),
        ident: name,
        generics: Default::default(),
        brace_token: brace_token(),
        variants: variants.into_iter().collect(),
    })
}

/// `#[attrs] impl Trait for Name { fns }` (inherent when `trait_path` is `None`).
pub fn impl_item(
    attrs: Vec<Attribute>,
    trait_path: Option<Path>,
    name: &Ident,
    fns: Vec<syn::ImplItemFn>,
) -> syn::Item {
    syn::Item::Impl(syn::ItemImpl {
        attrs,
        defaultness: None,
        unsafety: None,
        impl_token: Default::default(),
        generics: Default::default(),
        trait_: trait_path.map(|p| (None, p, Default::default())),
        self_ty: Box::new(ty(path_ident(name.clone()))),
        brace_token: brace_token(),
        items: fns.into_iter().map(syn::ImplItem::Fn).collect(),
    })
}

/// `#[attrs] vis sig { stmts }` inside an impl.
pub fn impl_fn(
    attrs: Vec<Attribute>,
    vis: syn::Visibility,
    sig: syn::Signature,
    stmts: Vec<Stmt>,
) -> syn::ImplItemFn {
    syn::ImplItemFn {
        attrs,
        vis,
        defaultness: None,
        sig,
        block: block(stmts),
    }
}

/// The first method of an impl block.
pub fn first_fn(item: &mut syn::ItemImpl) -> Option<&mut syn::ImplItemFn> {
    item.items.iter_mut().find_map(|i| match i {
        syn::ImplItem::Fn(f) => Some(f),
        _ => None,
    })
}

/// `name: T` as a function parameter.
pub fn fn_arg(name: &str, of: Type) -> syn::FnArg {
    syn::FnArg::Typed(syn::PatType {
        attrs: Vec::new(),
        pat: Box::new(pat_ident(ident(name))),
        colon_token: Default::default(),
        ty: Box::new(of),
    })
}

/// `-> T`.
pub fn returns(of: Type) -> syn::ReturnType {
    syn::ReturnType::Type(Default::default(), Box::new(of))
}

/// `*expr`.
pub fn deref(expr: Expr) -> Expr {
    Expr::Unary(syn::ExprUnary {
        attrs: Vec::new(),
        op: syn::UnOp::Deref(Default::default()),
        expr: Box::new(expr),
    })
}

/// `()` as an expression.
pub fn unit_expr() -> Expr {
    Expr::Tuple(syn::ExprTuple {
        attrs: Vec::new(),
        paren_token: paren_token(),
        elems: Punctuated::new(),
    })
}

/// `_` as a type.
pub fn infer_type() -> Type {
    Type::Infer(syn::TypeInfer {
        underscore_token: Default::default(),
    })
}

/// `[elems]`.
pub fn array(elems: Vec<Expr>) -> Expr {
    Expr::Array(syn::ExprArray {
        attrs: Vec::new(),
        bracket_token: bracket_token(),
        elems: elems.into_iter().collect(),
    })
}

/// `left = right`.
pub fn assign(left: Expr, right: Expr) -> Expr {
    Expr::Assign(syn::ExprAssign {
        attrs: Vec::new(),
        left: Box::new(left),
        eq_token: Default::default(),
        right: Box::new(right),
    })
}

/// `expr[index]`.
pub fn index(expr: Expr, index: Expr) -> Expr {
    Expr::Index(syn::ExprIndex {
        attrs: Vec::new(),
        expr: Box::new(expr),
        bracket_token: bracket_token(),
        index: Box::new(index),
    })
}

/// `if cond { stmts }`.
pub fn if_(cond: Expr, stmts: Vec<Stmt>) -> Expr {
    Expr::If(syn::ExprIf {
        attrs: Vec::new(),
        if_token: Default::default(),
        cond: Box::new(cond),
        then_branch: block(stmts),
        else_branch: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc_value(attr: &Attribute) -> String {
        match &attr.meta {
            Meta::NameValue(MetaNameValue {
                value:
                    Expr::Lit(ExprLit {
                        lit: Lit::Str(s), ..
                    }),
                ..
            }) => s.value(),
            _ => panic!("not a doc attribute"),
        }
    }

    #[test]
    fn doc_strings_keep_their_text() {
        for text in [
            "",
            " plain",
            " \"quoted\" and \"#hash\" and \"##two\"",
            " back\\slash, tab\tand unicode: é ✓",
            " lone\rcarriage return",
            " ends with a quote\"",
        ] {
            assert_eq!(doc_value(&doc_attr(text)), text, "{text:?}");
        }
    }

    #[test]
    fn paths_from_text() {
        let p = path("::serde_json::Value");
        assert!(p.leading_colon.is_some());
        assert_eq!(p.segments.len(), 2);
        let p = path("qapi_runtime::ser::optional");
        assert!(p.leading_colon.is_none());
        assert_eq!(p.segments.len(), 3);
    }
}
