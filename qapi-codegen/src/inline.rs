//! The runtime pasted into generated code as `pub mod qapi_runtime { .. }`, for standalone
//! crates that must not depend on this workspace.

use quote::format_ident;

/// The runtime as one inline module item (tests and the source table left out).
pub fn runtime_module() -> Result<syn::Item, String> {
    let lib = parse("lib", qapi_runtime::LIB_SOURCE)?;
    let mut items: Vec<syn::Item> = Vec::new();
    for (name, source) in qapi_runtime::MODULE_SOURCES {
        let file = parse(name, source)?;
        items.push(module(name, file.attrs, keep(file.items)));
    }
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

fn parse(name: &str, source: &str) -> Result<syn::File, String> {
    syn::parse_file(source).map_err(|e| format!("runtime module '{name}' does not parse: {e}"))
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
