//! The runtime pasted into generated code as `pub mod qapi_runtime { .. }`, for standalone
//! crates that must not depend on this workspace.

use crate::Error;
use quote::format_ident;
use std::sync::OnceLock;

/// A runtime module that does not parse, and why.
type Unparsed = (String, String);

/// The printed runtime module (the same for every generation, so printed once).
pub fn runtime_text() -> Result<&'static str, Error> {
    static TEXT: OnceLock<Result<String, Unparsed>> = OnceLock::new();
    TEXT.get_or_init(|| {
        let module = runtime_module()?;
        Ok(prettyplease::unparse(&syn::File {
            shebang: None,
            attrs: Vec::new(),
            items: vec![module],
        }))
    })
    .as_deref()
    .map_err(|(module, reason)| Error::Runtime {
        module: module.clone(),
        reason: reason.clone(),
    })
}

/// The runtime as one inline module item (tests and the source table left out).
fn runtime_module() -> Result<syn::Item, Unparsed> {
    let lib = parse("lib", qapi_runtime::LIB_SOURCE)?;
    let mut items: Vec<syn::Item> = Vec::new();
    let mut macros = Vec::new();
    for (name, source) in qapi_runtime::MODULE_SOURCES {
        let file = parse(name, source)?;
        let mut module_items = Vec::new();
        for item in keep(file.items) {
            match localize_macro(item) {
                (item, Some(reexport)) => {
                    module_items.push(item);
                    let ident = format_ident!("{}", name);
                    module_items.push(
                        syn::parse_quote!(#[allow(unused_imports)] pub(crate) use #reexport;),
                    );
                    macros.push(syn::parse_quote!(#[allow(unused_imports)] pub(crate) use #ident::#reexport;));
                }
                (item, None) => module_items.push(item),
            }
        }
        items.push(module(name, file.attrs, module_items));
    }
    items.extend(macros);
    for item in keep(lib.items) {
        match &item {
            // The `mod x;` declarations are replaced by the inline modules above.
            syn::Item::Mod(m) if m.content.is_none() => {}
            syn::Item::Const(c) if has_doc_hidden(&c.attrs) => {}
            _ => items.push(item),
        }
    }
    Ok(module("qapi_runtime", lib.attrs, items))
}

/// A `#[macro_export]` macro cannot be reached as `qapi_runtime::name!` once the runtime is a
/// module; it becomes a crate-local macro re-exported by path instead. Returns its name.
fn localize_macro(item: syn::Item) -> (syn::Item, Option<syn::Ident>) {
    let syn::Item::Macro(mut m) = item else {
        return (item, None);
    };
    let before = m.attrs.len();
    m.attrs.retain(|a| !a.path().is_ident("macro_export"));
    match (&m.ident, m.attrs.len() < before) {
        (Some(ident), true) => {
            let ident = ident.clone();
            m.attrs.push(syn::parse_quote!(#[allow(unused_macros)]));
            (syn::Item::Macro(m), Some(ident))
        }
        _ => (syn::Item::Macro(m), None),
    }
}

fn parse(name: &str, source: &str) -> Result<syn::File, Unparsed> {
    syn::parse_file(source).map_err(|e| (name.to_owned(), e.to_string()))
}

fn module(name: &str, attrs: Vec<syn::Attribute>, items: Vec<syn::Item>) -> syn::Item {
    let ident = format_ident!("{}", name);
    syn::Item::Mod(syn::ItemMod {
        attrs,
        vis: syn::parse_quote!(pub),
        unsafety: None,
        mod_token: Default::default(),
        ident,
        content: Some((Default::default(), items)),
        semi: None,
    })
}

/// Drops `#[cfg(test)]` items.
fn keep(items: Vec<syn::Item>) -> Vec<syn::Item> {
    items
        .into_iter()
        .filter(|item| {
            let attrs: &[syn::Attribute] = match item {
                syn::Item::Mod(m) => &m.attrs,
                syn::Item::Fn(f) => &f.attrs,
                syn::Item::Use(u) => &u.attrs,
                _ => &[],
            };
            !attrs.iter().any(|a| {
                a.path().is_ident("cfg") && a.parse_args::<syn::Ident>().is_ok_and(|i| i == "test")
            })
        })
        .collect()
}

fn has_doc_hidden(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("doc") && a.parse_args::<syn::Ident>().is_ok_and(|i| i == "hidden")
    })
}
