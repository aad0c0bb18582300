//! Macros that implement the fixed part of generated types, so the generated code holds only
//! what differs per type. Paths inside resolve where the macro is invoked: generated code
//! has `qapi_runtime` (this crate, or its inlined copy) and `serde` in scope.

/// `Decode`, `Serialize` and `Deserialize` for object types (structs and unions), through
/// their `DecodeMembers` and `SerializeMembers` impls.
#[macro_export]
macro_rules! object {
    ($t:ident) => {
        impl qapi_runtime::Decode for $t {
            fn decode(
                value: &::serde_json::Value,
                decoder: &mut qapi_runtime::Decoder,
            ) -> qapi_runtime::DecodeResult<Self> {
                qapi_runtime::decode::decode_object(value, decoder)
            }
        }
        impl ::serde::Serialize for $t {
            fn serialize<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                qapi_runtime::ser::serialize_object(self, serializer)
            }
        }
        qapi_runtime::deserialize!($t);
    };
}

/// `Display`, `Serialize`, `Decode` and `Deserialize` for enums, through their inherent
/// `as_str` and `from_wire`; `$unknown` is the variant keeping unknown values.
#[macro_export]
macro_rules! enumeration {
    ($t:ident, $unknown:ident) => {
        impl ::std::fmt::Display for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl ::serde::Serialize for $t {
            fn serialize<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
        impl qapi_runtime::Decode for $t {
            fn decode(
                value: &::serde_json::Value,
                decoder: &mut qapi_runtime::Decoder,
            ) -> qapi_runtime::DecodeResult<Self> {
                let text = decoder.enum_str(value)?;
                match $t::from_wire(text) {
                    ::std::option::Option::Some(known) => ::std::result::Result::Ok(known),
                    ::std::option::Option::None => {
                        decoder.unknown_enum_value(text).map($t::$unknown)
                    }
                }
            }
        }
        qapi_runtime::deserialize!($t);
    };
}

/// `Deserialize` through `Decode` (strict), so `serde_json::from_str` works with QEMU's
/// messages.
#[macro_export]
macro_rules! deserialize {
    ($t:ident) => {
        impl<'de> ::serde::Deserialize<'de> for $t {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                qapi_runtime::decode::deserialize(deserializer)
            }
        }
    };
}
