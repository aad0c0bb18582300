//! exec: start a program in the guest with its output captured, poll until it ends, hand its
//! output and exit status through.

use crate::output::{to_json, Report};
use crate::transport::{secs, Agent};
use crate::Failure;
use qga_types::*;
use std::time::{Duration, Instant};

pub fn exec(
    agent: &mut Agent,
    command: &[String],
    env: &[String],
    input: Option<&[u8]>,
) -> Result<Report, Failure> {
    let Some((path, args)) = command.split_first() else {
        return Err(Failure::usage("exec needs a program to run".into()));
    };
    if let Some(bad) = env.iter().find(|e| !e.contains('=')) {
        return Err(Failure::usage(format!("-e wants VAR=VALUE, not {bad:?}")));
    }
    let request = GuestExecArgs {
        path: path.clone(),
        arg: Some(args.to_vec()),
        env: (!env.is_empty()).then(|| env.to_vec()),
        input_data: input.map(qapi_runtime::base64::encode),
        capture_output: Some(GuestExecCaptureOutput::Flag(true)),
    };
    let pid = match agent.c().guest_exec(&request) {
        Ok(started) => started.pid,
        Err(e) => return Err(agent.fail("guest-exec", e)),
    };
    let deadline = Instant::now() + agent.timeout;
    let mut pause = Duration::from_millis(5);
    let status = loop {
        let status = match agent.c().guest_exec_status(&GuestExecStatusArgs { pid }) {
            Ok(status) => status,
            Err(e) => return Err(agent.fail("guest-exec-status", e)),
        };
        if status.exited {
            break status;
        }
        if Instant::now() >= deadline {
            return Err(Failure::new(format!(
                "{path}: still running in the guest after {} (pid {pid}); raise --timeout",
                secs(agent.timeout)
            )));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(200));
    };
    let decode = |data: &Option<String>, what: &str| -> Result<Vec<u8>, Failure> {
        match data {
            Some(text) => qapi_runtime::base64::decode_strict(text)
                .map_err(|e| Failure::new(format!("the guest's {what} is not base64: {e:?}"))),
            None => Ok(Vec::new()),
        }
    };
    let out = decode(&status.out_data, "stdout")?;
    let err = decode(&status.err_data, "stderr")?;
    if status.out_truncated == Some(true) || status.err_truncated == Some(true) {
        eprintln!("qga: the guest agent truncated the program's output");
    }
    let exit = match (status.exitcode, status.signal) {
        (_, Some(signal)) => 128 + signal as i32,
        (Some(code), None) => code as i32,
        (None, None) => 0,
    };
    let how = match status.signal {
        Some(signal) => format!("killed by signal {signal}"),
        None => format!("exit {exit}"),
    };
    let mut json = to_json(&status);
    json["pid"] = pid.into();
    let text = format!(
        "{}{}[{how}]",
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&err)
    );
    Ok(Report {
        json,
        text,
        exit,
        raw: Some((out, err)),
    })
}
