//! Decoding built-in types and the request helpers, with QEMU's messages (texts checked
//! against qemu-ga 10.0.2).

use qapi_runtime::decode::{
    from_members, from_value, from_value_lenient, Decode, DecodeError, DecodeMembers, Decoder,
    Members,
};
use qapi_runtime::request::{decode_args, no_args, Request};
use qapi_runtime::writer::to_string;
use qapi_runtime::{Null, Reply};
use serde_json::{json, Value};

/// `{ 'logical-id': 'int', 'online': 'bool', '*can-offline': 'bool' }`
#[derive(Debug, PartialEq)]
struct Cpu {
    logical_id: i64,
    online: bool,
    can_offline: Option<bool>,
}

impl DecodeMembers for Cpu {
    fn decode_members(m: &mut Members<'_, '_>) -> Result<Self, DecodeError> {
        Ok(Cpu {
            logical_id: m.required("logical-id")?,
            online: m.required("online")?,
            can_offline: m.optional("can-offline")?,
        })
    }
}

impl Decode for Cpu {
    fn decode(v: &Value, d: &mut Decoder) -> Result<Self, DecodeError> {
        qapi_runtime::decode::decode_object(v, d)
    }
}

/// `{ 'vcpus': ['Cpu'] }`
#[derive(Debug, PartialEq)]
struct SetVcpus {
    vcpus: Vec<Cpu>,
}

impl DecodeMembers for SetVcpus {
    fn decode_members(m: &mut Members<'_, '_>) -> Result<Self, DecodeError> {
        Ok(SetVcpus {
            vcpus: m.required("vcpus")?,
        })
    }
}

fn args_error<T: DecodeMembers + std::fmt::Debug>(args: Value) -> String {
    decode_args::<T>(args.as_object()).unwrap_err().desc
}

#[test]
fn nested_paths_and_precedence() {
    let e = args_error::<SetVcpus>(json!({"vcpus": [{"logical-id": 0, "online": 3}]}));
    assert_eq!(
        e,
        "Invalid parameter type for 'vcpus[0].online', expected: boolean"
    );
    let e = args_error::<SetVcpus>(json!({"vcpus": [{"logical-id": 0}]}));
    assert_eq!(e, "Parameter 'vcpus[0].online' is missing");
    let e = args_error::<SetVcpus>(json!({"vcpus": [{"logical-id": 0, "online": true, "x": 1}]}));
    assert_eq!(e, "Parameter 'vcpus[0].x' is unexpected");
    let e = args_error::<SetVcpus>(json!({"vcpus": [{"logical-id": 0, "online": true}, 5]}));
    assert_eq!(e, "Invalid parameter type for 'vcpus[1]', expected: object");
    let e = args_error::<SetVcpus>(json!({"vcpus": {}}));
    assert_eq!(e, "Invalid parameter type for 'vcpus', expected: array");
    // A bad member wins over an unexpected one; the first bad member in schema order wins.
    let e = args_error::<SetVcpus>(json!({"zz": 1, "vcpus": [{"online": 1, "logical-id": "x"}]}));
    assert_eq!(
        e,
        "Invalid parameter type for 'vcpus[0].logical-id', expected: integer"
    );
    let ok =
        decode_args::<SetVcpus>(json!({"vcpus": [{"logical-id": 1, "online": false}]}).as_object())
            .unwrap();
    assert_eq!(
        ok.vcpus,
        [Cpu {
            logical_id: 1,
            online: false,
            can_offline: None
        }]
    );
}

#[test]
fn integers() {
    let d = |v: Value| -> String {
        from_value::<Wrap<u64>>(&json!({ "phys-index": v }))
            .unwrap_err()
            .to_string()
    };
    assert_eq!(d(json!("a")), "Parameter 'phys-index' expects uint64");
    assert_eq!(d(json!(1.5)), "Parameter 'phys-index' expects uint64");
    assert_eq!(
        from_value::<Wrap<u64>>(&json!({"phys-index": -1}))
            .unwrap()
            .0,
        u64::MAX
    );
    let e = from_value::<Wrap<i32>>(&json!({"phys-index": 1u64 << 40})).unwrap_err();
    assert_eq!(e.to_string(), "Parameter 'phys-index' expects int32_t");
    let e = from_value::<Wrap<u8>>(&json!({"phys-index": -1})).unwrap_err();
    assert_eq!(e.to_string(), "Parameter 'phys-index' expects uint8_t");
    let e = from_value::<Wrap<i8>>(&json!({"phys-index": "1"})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Invalid parameter type for 'phys-index', expected: integer"
    );
    let e = from_value::<Wrap<i64>>(&json!({"phys-index": 1.0})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Invalid parameter type for 'phys-index', expected: integer"
    );
    // Range errors name array elements 'null'.
    let e = from_value::<Wrap<Vec<u16>>>(&json!({"phys-index": [1, 70000]})).unwrap_err();
    assert_eq!(e.to_string(), "Parameter 'null' expects uint16_t");
    assert_eq!(
        from_value::<Wrap<f64>>(&json!({"phys-index": 3}))
            .unwrap()
            .0,
        3.0
    );
    let e = from_value::<Wrap<f64>>(&json!({"phys-index": true})).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Invalid parameter type for 'phys-index', expected: number"
    );
}

/// A one-member object `{ 'phys-index': T }`.
#[derive(Debug)]
struct Wrap<T>(T);

impl<T: Decode> DecodeMembers for Wrap<T> {
    fn decode_members(m: &mut Members<'_, '_>) -> Result<Self, DecodeError> {
        Ok(Wrap(m.required("phys-index")?))
    }
}

impl<T: Decode> Decode for Wrap<T> {
    fn decode(v: &Value, d: &mut Decoder) -> Result<Self, DecodeError> {
        qapi_runtime::decode::decode_object(v, d)
    }
}

#[test]
fn null_and_absent_differ() {
    #[derive(Debug)]
    struct Opt(Option<Null>);
    impl DecodeMembers for Opt {
        fn decode_members(m: &mut Members<'_, '_>) -> Result<Self, DecodeError> {
            Ok(Opt(m.optional("x")?))
        }
    }
    assert_eq!(from_members::<Opt>(json!({}).as_object()).unwrap().0, None);
    assert_eq!(
        from_members::<Opt>(json!({"x": null}).as_object())
            .unwrap()
            .0,
        Some(Null)
    );
    let e = from_members::<Opt>(json!({"x": 0}).as_object()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Invalid parameter type for 'x', expected: null"
    );
}

#[test]
fn lenient_ignores_unknown_members() {
    let v = json!({"logical-id": 1, "online": true, "new-member": 5});
    assert!(from_value::<Cpu>(&v).is_err());
    assert_eq!(from_value_lenient::<Cpu>(&v).unwrap().logical_id, 1);
}

#[test]
fn argumentless_commands_reject_arguments() {
    assert_eq!(
        no_args(json!({"a": 1, "b": 2, "c": 3}).as_object())
            .unwrap_err()
            .desc,
        "Parameter 'b' is unexpected"
    );
    assert!(no_args(None).is_ok());
    assert!(no_args(json!({}).as_object()).is_ok());
}

fn reject(text: &str) -> String {
    let v: Value = serde_json::from_str(text).unwrap();
    let r = Request::parse(&v).unwrap_err().into_reply::<()>();
    to_string(&r).unwrap()
}

#[test]
fn request_shape_errors_match_qemu_ga() {
    assert_eq!(
        reject(r#"[1, 2]"#),
        r#"{"error": {"class": "GenericError", "desc": "QMP input must be a JSON object"}}"#
    );
    assert_eq!(
        reject(r#"{"id": 1, "foo": 2, "bar": 3, "execute": 5}"#),
        r#"{"id": 1, "error": {"class": "GenericError", "desc": "QMP input member 'bar' is unexpected"}}"#
    );
    assert_eq!(
        reject(r#"{"execute": "guest-ping", "arguments": []}"#),
        r#"{"error": {"class": "GenericError", "desc": "QMP input member 'arguments' must be an object"}}"#
    );
    assert_eq!(
        reject(r#"{"execute": "guest-info", "exec-oob": "x"}"#),
        r#"{"error": {"class": "GenericError", "desc": "QMP input member 'exec-oob' is unexpected"}}"#
    );
    assert_eq!(
        reject(r#"{"arguments": {}}"#),
        r#"{"error": {"class": "GenericError", "desc": "QMP input lacks member 'execute'"}}"#
    );
    assert_eq!(
        reject(r#"{"execute": 1, "id": "x"}"#),
        r#"{"id": "x", "error": {"class": "GenericError", "desc": "QMP input member 'execute' must be a string"}}"#
    );
}

#[test]
fn reply_envelopes_and_id_echo() {
    let id: Value =
        serde_json::from_str(r#"{"b": 1, "a": 2, "c": [1, {"z": 1, "y": 2}]}"#).unwrap();
    let r = Reply::ok(Some(id), 1795553604906737000i64);
    assert_eq!(
        to_string(&r).unwrap(),
        r#"{"return": 1795553604906737000, "id": {"a": 2, "b": 1, "c": [1, {"y": 2, "z": 1}]}}"#
    );
    let mut line = Vec::new();
    Reply::<()>::error(
        None,
        qapi_runtime::QapiError::command_not_found("guest-foo"),
    )
    .write_line(&mut line)
    .unwrap();
    assert_eq!(
        String::from_utf8(line).unwrap(),
        "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command guest-foo has not been found\"}}\n"
    );
}

#[test]
fn base64_round_trip_and_errors() {
    use qapi_runtime::base64::{decode_lenient, decode_strict as decode, encode};
    // Short inputs, the 24-byte blocks of the encoder and its 12 KiB and 192 KiB pieces.
    let lengths = (0..100).chain([12287, 12288, 12289, 196_607, 196_608, 196_610]);
    for n in lengths {
        let bytes: Vec<u8> = (0..n)
            .map(|b: usize| (b.wrapping_mul(37) >> 3) as u8)
            .collect();
        let text = encode(&bytes);
        assert_eq!(text.len(), n.div_ceil(3) * 4);
        assert_eq!(decode(&text).unwrap(), bytes, "length {n}");
        let mut written = Vec::new();
        qapi_runtime::base64::write_to(&mut written, &bytes).unwrap();
        assert_eq!(written, text.as_bytes(), "length {n}");
    }
    assert_eq!(encode(b"hello"), "aGVsbG8=");
    assert!(decode("aGVsbG8").is_err());
    assert!(decode("aG=sbG8=").is_err());
    assert!(decode("a*VsbG8=").is_err());
    // The lenient decoder takes all of these, as qemu-ga does; both reject foreign characters.
    assert_eq!(decode_lenient("aGVsbG8").unwrap(), b"hel");
    assert_eq!(decode_lenient("aA==aGk=").unwrap(), b"hhi");
    assert!(decode_lenient("a*VsbG8=").is_err());
    let lenient = from_value::<qapi_runtime::Base64Bytes>(&json!("aGVs\nbG8")).unwrap();
    assert_eq!(lenient.as_ref(), b"hel");
    let e = from_value::<qapi_runtime::Base64Bytes>(&json!("@@@@")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("Parameter '<anonymous>' expects base64 data"),
        "{e}"
    );
}
