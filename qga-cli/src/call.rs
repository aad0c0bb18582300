//! call: any command of the schema with JSON arguments, checked locally by the generated
//! `check_arguments` (the agent's own decoding rules and messages) before anything is sent.

use crate::output::Report;
use crate::transport::Agent;
use crate::Failure;
use qga_types::command_info;
use serde_json::{Map, Value};

/// Parses and checks the arguments of `command`; the error names the member and type.
pub fn check(
    command: &str,
    arguments: Option<&str>,
) -> Result<Option<Map<String, Value>>, Failure> {
    let arguments = match arguments {
        None => None,
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Some(map),
            Ok(_) => return Err(Failure::usage("the arguments must be a JSON object".into())),
            Err(e) => return Err(Failure::usage(format!("the arguments are not JSON: {e}"))),
        },
    };
    // Decoded into the command's argument type with the agent's rules and messages.
    qga_types::check_arguments(command, arguments.as_ref())
        .map_err(|e| Failure::usage(format!("{command}: {}", e.desc)))?;
    Ok(arguments)
}

pub fn call(
    agent: &mut Agent,
    command: &str,
    arguments: Option<&Map<String, Value>>,
) -> Result<Report, Failure> {
    let replies = command_info(command).is_none_or(|c| c.success_response);
    if !replies {
        agent
            .c()
            .connection()
            .send_only(command, arguments)
            .map_err(|e| agent.fail(command, e))?;
        return Ok(Report::new(Value::Null, format!("{command} sent")));
    }
    let value = agent
        .c()
        .connection()
        .execute_value(command, arguments)
        .map_err(|e| agent.fail(command, e))?;
    let text = serde_json::to_string_pretty(&value).unwrap_or_default();
    Ok(Report::new(value, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(command: &str, args: &str) -> String {
        match check(command, Some(args)) {
            Ok(_) => "ok".into(),
            Err(e) => e.message,
        }
    }

    #[test]
    fn arguments_are_checked_by_the_schema() {
        assert_eq!(
            message("guest-file-read", r#"{"handle": 1, "count": 5}"#),
            "ok"
        );
        let wrong = message("guest-file-read", r#"{"handle": "one"}"#);
        assert!(
            wrong.contains("'handle'") && wrong.contains("integer"),
            "{wrong}"
        );
        let missing = message("guest-exec", "{}");
        assert!(
            missing.contains("'path'") && missing.contains("missing"),
            "{missing}"
        );
        let extra = message("guest-ping", r#"{"x": 1}"#);
        assert!(extra.contains("'x'"), "{extra}");
        let unknown = message("guest-nothing", "{}");
        assert!(unknown.contains("not been found"), "{unknown}");
        assert!(message("guest-ping", "[1]").contains("JSON object"));
    }
}
