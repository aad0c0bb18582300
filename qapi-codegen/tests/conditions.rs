//! Conditions that disagree with the types they use (`tests/golden/conditions.json`): every
//! definition carries the conditions of the types it needs, so the output builds in every
//! configuration. Checked two ways: the cfgs of each item of the output (parsed with syn),
//! and the golden output compiled here (CONFIG_WIN32 false, CONFIG_LINUX true) and used.

use qapi_codegen::{generate, load_schema, Options, UnmappedCfg};
use qapi_runtime::decode::from_value;
use qapi_runtime::{EventMessage, QapiError, Reply};
use quote::ToTokens;
use serde_json::{json, Value};
use std::path::Path;

#[allow(dead_code)]
#[cfg(target_os = "linux")]
mod generated {
    include!("golden/conditions.rs");
}

const WIN: &str = "feature = \"config_win32\"";
const LINUX: &str = "feature = \"config_linux\"";
const BOTH: &str = "all (feature = \"config_linux\" , feature = \"config_win32\")";
const ANY: &str = "any (feature = \"config_win32\" , feature = \"config_linux\")";

/// The output for the test schema, conditions as cargo features, parsed.
fn output() -> syn::File {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/conditions.json");
    let schema = load_schema(&path, false).unwrap();
    let options = Options {
        unmapped_cfg: UnmappedCfg::Feature,
        ..Options::default()
    };
    syn::parse_file(&generate(&schema, &options).unwrap().code).unwrap()
}

/// The predicates of the `#[cfg]`s among `attrs`, as token text.
fn cfgs(attrs: &[syn::Attribute]) -> Vec<String> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .filter_map(|a| match &a.meta {
            syn::Meta::List(list) => Some(list.tokens.to_string()),
            _ => None,
        })
        .collect()
}

/// The name an item defines (impls: their self type, with the trait if any).
fn item_key(item: &syn::Item) -> Option<(String, &[syn::Attribute])> {
    let name = |i: &syn::Ident| i.to_string();
    Some(match item {
        syn::Item::Struct(s) => (name(&s.ident), &s.attrs),
        syn::Item::Enum(e) => (name(&e.ident), &e.attrs),
        syn::Item::Trait(t) => (name(&t.ident), &t.attrs),
        syn::Item::Impl(i) => {
            let ty = i.self_ty.to_token_stream().to_string();
            let key = match &i.trait_ {
                Some((_, path, _)) => format!("impl {} for {ty}", path.to_token_stream()),
                None => format!("impl {ty}"),
            };
            (key, &i.attrs)
        }
        syn::Item::Macro(m) => (m.mac.tokens.to_string(), &m.attrs),
        _ => return None,
    })
}

/// The cfgs of every item whose key is `key`, or whose key ends with ` for <key>` (impls).
fn item_cfgs(file: &syn::File, key: &str) -> Vec<Vec<String>> {
    let suffix = format!(" for {key}");
    let own = format!("impl {key}");
    let found: Vec<Vec<String>> = file
        .items
        .iter()
        .filter_map(item_key)
        .filter(|(k, _)| k == key || k.ends_with(&suffix) || *k == own)
        .map(|(_, attrs)| cfgs(attrs))
        .collect();
    assert!(!found.is_empty(), "no item for {key}");
    found
}

/// Asserts that every item for `key` (the definition, its impls, its macro calls) has
/// exactly the cfgs `expected`.
fn assert_item(file: &syn::File, key: &str, expected: &[&str]) {
    for got in item_cfgs(file, key) {
        assert_eq!(got, expected, "{key}");
    }
}

fn enum_variant_cfgs(file: &syn::File, name: &str, variant: &str) -> Vec<String> {
    file.items
        .iter()
        .find_map(|i| match i {
            syn::Item::Enum(e) if e.ident == name => e.variants.iter().find(|v| v.ident == variant),
            _ => None,
        })
        .map(|v| cfgs(&v.attrs))
        .unwrap_or_else(|| panic!("no variant {name}::{variant}"))
}

fn struct_field_cfgs(file: &syn::File, name: &str, field: &str) -> Vec<String> {
    file.items
        .iter()
        .find_map(|i| match i {
            syn::Item::Struct(s) if s.ident == name => s
                .fields
                .iter()
                .find(|f| f.ident.as_ref().is_some_and(|i| i == field)),
            _ => None,
        })
        .map(|f| cfgs(&f.attrs))
        .unwrap_or_else(|| panic!("no field {name}.{field}"))
}

/// The cfgs of method `method` in the trait or inherent impl called `owner`.
fn method_cfgs(file: &syn::File, owner: &str, method: &str) -> Vec<String> {
    for item in &file.items {
        match item {
            syn::Item::Trait(t) if t.ident == owner => {
                for i in &t.items {
                    if let syn::TraitItem::Fn(f) = i {
                        if f.sig.ident == method {
                            return cfgs(&f.attrs);
                        }
                    }
                }
            }
            syn::Item::Impl(i)
                if i.trait_.is_none()
                    && i.self_ty.to_token_stream().to_string().starts_with(owner) =>
            {
                for m in &i.items {
                    if let syn::ImplItem::Fn(f) = m {
                        if f.sig.ident == method {
                            return cfgs(&f.attrs);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    panic!("no method {owner}::{method}")
}

#[test]
fn types_carry_the_conditions_of_the_types_they_need() {
    let file = output();
    assert_item(&file, "Color", &[WIN]);
    assert_item(&file, "Shape", &[ANY]);
    // Unconditional, needs Color.
    assert_item(&file, "Paint", &[WIN]);
    // Own condition implies Shape's; own condition equal to Color's.
    assert_item(&file, "Ball", &[LINUX]);
    assert_item(&file, "Tinted", &[WIN]);
    // Conditional members keep the struct unconditional and take their type's condition
    // (once, when the member's own is the same).
    assert_item(&file, "Label", &[]);
    assert_eq!(struct_field_cfgs(&file, "Label", "tint"), [BOTH]);
    assert_eq!(struct_field_cfgs(&file, "Label", "paint"), [WIN]);
    assert!(struct_field_cfgs(&file, "Label", "text").is_empty());
    // The union inherits its base's condition; its conditional branch takes Tinted's too.
    assert_item(&file, "ThingBase", &[LINUX]);
    assert_item(&file, "Thing", &[LINUX]);
    assert!(enum_variant_cfgs(&file, "Thing", "Round").is_empty());
    assert_eq!(enum_variant_cfgs(&file, "Thing", "Square"), [BOTH]);
    // A cycle settles: both need Color.
    assert_item(&file, "Tree", &[WIN]);
    assert_item(&file, "Forest", &[WIN]);
    assert_item(&file, "PaintOrName", &[WIN]);
    assert_item(&file, "ColorOrNumber", &[]);
    assert_eq!(enum_variant_cfgs(&file, "ColorOrNumber", "Color"), [BOTH]);
    assert!(enum_variant_cfgs(&file, "ColorOrNumber", "Number").is_empty());
    // Implicit argument and event data types.
    assert_item(&file, "PaintArgs", &[WIN]);
    assert_item(&file, "GrowArgs", &[WIN]);
    assert_item(&file, "ColorChangedEvent", &[WIN]);
}

#[test]
fn commands_and_events_carry_the_conditions_of_their_types() {
    let file = output();
    let commands = [
        ("get_paint", "GetPaint", vec![WIN]),
        ("paint", "Paint", vec![WIN]),
        ("get_thing", "GetThing", vec![LINUX]),
        ("get_label", "GetLabel", vec![]),
        ("grow", "Grow", vec![WIN]),
        ("ping", "Ping", vec![]),
    ];
    for (method, variant, expected) in &commands {
        assert_eq!(
            &method_cfgs(&file, "Commands", method),
            expected,
            "{method}"
        );
        assert_eq!(&method_cfgs(&file, "Client", method), expected, "{method}");
        let ret = enum_variant_cfgs(&file, "CommandReturn", variant);
        assert_eq!(&ret, expected, "{variant}");
    }
    let events = [
        ("ColorChanged", vec![WIN]),
        ("Painted", vec![WIN]),
        ("Reset", vec![]),
    ];
    for (variant, expected) in &events {
        assert_eq!(&enum_variant_cfgs(&file, "Event", variant), expected);
    }
    // The dispatcher's arms and the command table test the same conditions.
    let text = file.to_token_stream().to_string();
    let win = format!("# [cfg ({WIN})] \"get-paint\" =>");
    assert!(
        text.contains(&win),
        "no conditional dispatch arm for get-paint"
    );
    let linux = format!("# [cfg ({LINUX})] qapi_runtime :: CommandInfo {{ name : \"get-thing\"");
    assert!(
        text.contains(&linux),
        "no conditional table entry for get-thing"
    );
}

/// A server for the commands of this build (Linux: only the CONFIG_LINUX and unconditional
/// ones exist).
#[cfg(target_os = "linux")]
struct Server;

#[cfg(target_os = "linux")]
impl generated::Commands for Server {
    fn get_thing(&mut self) -> Result<generated::Thing, QapiError> {
        Ok(generated::Thing::Round(generated::Round { radius: 3 }))
    }

    fn get_label(&mut self) -> Result<generated::Label, QapiError> {
        Ok(generated::Label { text: "t".into() })
    }

    fn ping(&mut self) -> Result<(), QapiError> {
        Ok(())
    }
}

#[cfg(target_os = "linux")]
fn reply(request: Value) -> Value {
    let reply: Option<Reply<generated::CommandReturn>> = generated::dispatch(&mut Server, &request);
    let text = qapi_runtime::writer::to_string(&reply.unwrap()).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn the_build_has_what_its_conditions_allow() {
    let names: Vec<&str> = generated::COMMANDS.iter().map(|c| c.name).collect();
    assert_eq!(names, ["get-thing", "get-label", "ping"]);
    assert_eq!(
        reply(json!({"execute": "get-thing"})),
        json!({"return": {"kind": "round", "radius": 3}})
    );
    let missing = reply(json!({"execute": "get-paint"}));
    assert_eq!(missing["error"]["class"], "CommandNotFound");
    // Label.tint needs Color (CONFIG_WIN32): not a member here.
    let label = from_value::<generated::Label>(&json!({"text": "t", "tint": "red"}));
    assert_eq!(
        label.unwrap_err().to_string(),
        "Parameter 'tint' is unexpected"
    );
    // Thing's square branch needs Tinted (CONFIG_WIN32), though its tag value exists.
    let square = from_value::<generated::Thing>(&json!({"kind": "square", "color": "red"}));
    assert_eq!(
        square.unwrap_err().to_string(),
        "Parameter 'kind' does not accept value 'square'"
    );
    let shape = from_value::<generated::Shape>(&json!("square")).unwrap();
    assert_eq!(shape, generated::Shape::Square);
    assert!(from_value::<generated::ColorOrNumber>(&json!("red")).is_err());
    assert_eq!(
        from_value::<generated::ColorOrNumber>(&json!(5)).unwrap(),
        generated::ColorOrNumber::Number(5)
    );
    let event = json!({"event": "COLOR_CHANGED", "data": {"color": "red"},
                       "timestamp": {"seconds": 0, "microseconds": 0}});
    let err = from_value::<EventMessage<generated::Event>>(&event).unwrap_err();
    assert_eq!(err.to_string(), "Unknown event 'COLOR_CHANGED'");
    let reset = json!({"event": "RESET", "timestamp": {"seconds": 0, "microseconds": 0}});
    let reset: EventMessage<generated::Event> = from_value(&reset).unwrap();
    assert_eq!(reset.event, generated::Event::Reset);
}
