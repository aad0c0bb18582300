//! Macros that implement the fixed part of generated types, so the generated code holds only
//! what differs per type. Paths start at `$crate` (this crate, which re-exports serde and
//! serde_json), so the invoking crate needs no serde of its own; a generator that inlines the
//! runtime rewrites `$crate` to the inlined module's name.

/// `Decode`, `Serialize` and `Deserialize` for object types (structs and unions), through
/// their `DecodeMembers` and `SerializeMembers` impls.
#[macro_export]
macro_rules! object {
    ($t:ident) => {
        impl $crate::Decode for $t {
            fn decode(
                value: &$crate::serde_json::Value,
                decoder: &mut $crate::Decoder,
            ) -> $crate::DecodeResult<Self> {
                $crate::decode::decode_object(value, decoder)
            }

            /// An object whose members all have zero values (none for a union's tag).
            fn absent() -> ::std::option::Option<Self> {
                let empty = $crate::serde_json::Value::Object(::std::default::Default::default());
                $crate::decode::decode_object(&empty, &mut $crate::Decoder::lenient()).ok()
            }
        }
        impl $crate::serde::Serialize for $t {
            fn serialize<S: $crate::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                $crate::ser::serialize_object(self, serializer)
            }
        }
        $crate::deserialize!($t);
    };
}

/// `Display`, `Serialize`, `Decode`, `Deserialize` and `Enumeration` for enums, through their
/// inherent `as_str` and `from_wire`; `$unknown` is the variant keeping unknown values,
/// `$schema_name` the enum's name in the schema.
#[macro_export]
macro_rules! enumeration {
    ($t:ident, $unknown:ident, $schema_name:literal) => {
        impl $crate::Enumeration for $t {
            const SCHEMA_NAME: &'static str = $schema_name;

            fn wire_name(&self) -> &str {
                self.as_str()
            }
        }
        impl ::std::fmt::Display for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl $crate::serde::Serialize for $t {
            fn serialize<S: $crate::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
        impl $crate::Decode for $t {
            fn decode(
                value: &$crate::serde_json::Value,
                decoder: &mut $crate::Decoder,
            ) -> $crate::DecodeResult<Self> {
                let text = decoder.enum_str(value)?;
                match $t::from_wire(text) {
                    ::std::option::Option::Some(known) => ::std::result::Result::Ok(known),
                    ::std::option::Option::None => decoder
                        .unknown_enum_value(::std::stringify!($t), text)
                        .map($t::$unknown),
                }
            }

            fn absent() -> ::std::option::Option<Self> {
                ::std::option::Option::Some($t::$unknown(::std::string::String::new()))
            }
        }
        $crate::deserialize!($t);
    };
}

/// `Deserialize` through `Decode` (strict), so `serde_json::from_str` works with QEMU's
/// messages.
#[macro_export]
macro_rules! deserialize {
    ($t:ident) => {
        impl<'de> $crate::serde::Deserialize<'de> for $t {
            fn deserialize<D: $crate::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                $crate::decode::deserialize(deserializer)
            }
        }
    };
}
