//! call: any command of the schema with JSON arguments, checked locally by the generated
//! dispatcher (the agent's own decoding rules and messages) before anything is sent.

use crate::output::Report;
use crate::transport::Agent;
use crate::Failure;
use qapi_runtime::QapiError;
use qga_types::*;
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
    // The dispatcher looks the command up, decodes the arguments with the agent's rules,
    // and only then calls the handler, which here just says the arguments were fine.
    match qga_types::call(&mut Checker, command, arguments.as_ref()) {
        Err(e) if e.desc == ARGUMENTS_OK => Ok(arguments),
        Err(e) => Err(Failure::usage(format!("{command}: {}", e.desc))),
        Ok(_) => Ok(arguments),
    }
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

const ARGUMENTS_OK: &str = "qga: arguments checked";

/// A handler that is reached only when the arguments decoded.
struct Checker;

macro_rules! checked_commands {
    ($($method:ident($($args:ty)?) -> $ret:ty;)*) => {
        impl Commands for Checker {
            $(
                fn $method(&mut self $(, _arguments: $args)?) -> Result<$ret, QapiError> {
                    Err(QapiError::generic(ARGUMENTS_OK))
                }
            )*
            #[cfg(windows)]
            fn guest_get_devices(&mut self) -> Result<Vec<GuestDeviceInfo>, QapiError> {
                Err(QapiError::generic(ARGUMENTS_OK))
            }
        }
    };
}

checked_commands! {
    guest_sync_delimited(GuestSyncDelimitedArgs) -> i64;
    guest_sync(GuestSyncArgs) -> i64;
    guest_ping() -> ();
    guest_get_time() -> i64;
    guest_set_time(GuestSetTimeArgs) -> ();
    guest_info() -> GuestAgentInfo;
    guest_shutdown(GuestShutdownArgs) -> ();
    guest_file_open(GuestFileOpenArgs) -> i64;
    guest_file_close(GuestFileCloseArgs) -> ();
    guest_file_read(GuestFileReadArgs) -> GuestFileRead;
    guest_file_write(GuestFileWriteArgs) -> GuestFileWrite;
    guest_file_seek(GuestFileSeekArgs) -> GuestFileSeek;
    guest_file_flush(GuestFileFlushArgs) -> ();
    guest_fsfreeze_status() -> GuestFsfreezeStatus;
    guest_fsfreeze_freeze() -> i64;
    guest_fsfreeze_freeze_list(GuestFsfreezeFreezeListArgs) -> i64;
    guest_fsfreeze_thaw() -> i64;
    guest_fstrim(GuestFstrimArgs) -> GuestFilesystemTrimResponse;
    guest_suspend_disk() -> ();
    guest_suspend_ram() -> ();
    guest_suspend_hybrid() -> ();
    guest_network_get_interfaces() -> Vec<GuestNetworkInterface>;
    guest_get_vcpus() -> Vec<GuestLogicalProcessor>;
    guest_set_vcpus(GuestSetVcpusArgs) -> i64;
    guest_get_disks() -> Vec<GuestDiskInfo>;
    guest_get_fsinfo() -> Vec<GuestFilesystemInfo>;
    guest_set_user_password(GuestSetUserPasswordArgs) -> ();
    guest_get_memory_blocks() -> Vec<GuestMemoryBlock>;
    guest_set_memory_blocks(GuestSetMemoryBlocksArgs) -> Vec<GuestMemoryBlockResponse>;
    guest_get_memory_block_info() -> GuestMemoryBlockInfo;
    guest_exec_status(GuestExecStatusArgs) -> GuestExecStatus;
    guest_exec(GuestExecArgs) -> GuestExec;
    guest_get_host_name() -> GuestHostName;
    guest_get_users() -> Vec<GuestUser>;
    guest_get_timezone() -> GuestTimezone;
    guest_get_osinfo() -> GuestOsInfo;
    guest_ssh_get_authorized_keys(GuestSshGetAuthorizedKeysArgs) -> GuestAuthorizedKeys;
    guest_ssh_add_authorized_keys(GuestSshAddAuthorizedKeysArgs) -> ();
    guest_ssh_remove_authorized_keys(GuestSshRemoveAuthorizedKeysArgs) -> ();
    guest_get_diskstats() -> Vec<GuestDiskStatsInfo>;
    guest_get_cpustats() -> Vec<GuestCpuStats>;
    guest_get_load() -> GuestLoadAverage;
    guest_network_get_route() -> Vec<GuestNetworkRoute>;
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
