//! Protocol and session checks: sync, ping, the command table, protocol errors, the exact
//! bytes on the wire, and hanging up and reconnecting on the virtio-serial port.

use super::{command_error, expect_error, Ctx};
use crate::qga::RawConnection;
use anyhow::{ensure, Result};
use qga_types::qapi_runtime::{Empty, ErrorClass};
use qga_types::{
    GuestFileCloseArgs, GuestFileOpenArgs, GuestFileReadArgs, GuestSyncArgs,
    GuestSyncDelimitedArgs, COMMANDS,
};
use serde_json::json;
use std::time::Duration;

pub fn sync(ctx: &mut Ctx) -> Result<()> {
    for id in [1_234_567_890_123_i64, -5, 0, i64::MAX] {
        let got = ctx.client.guest_sync(&GuestSyncArgs { id })?;
        ensure!(got == id, "guest-sync echoed {got}, sent {id}");
    }
    // The reply is preceded by the 0xFF sentinel, which the client skips.
    let got = ctx
        .client
        .guest_sync_delimited(&GuestSyncDelimitedArgs { id: 77 })?;
    ensure!(got == 77, "guest-sync-delimited echoed {got}");
    Ok(())
}

pub fn ping(ctx: &mut Ctx) -> Result<()> {
    ctx.client.guest_ping()?;
    Ok(())
}

/// Every Linux command of the schema, all enabled; no reply on success exactly for the
/// power commands; listed newest-first (the reverse of registration order).
pub fn info(ctx: &mut Ctx) -> Result<()> {
    let info = ctx.client.guest_info()?;
    ensure!(info.version == "10.0.2", "version {:?}", info.version);
    let got: Vec<(&str, bool, bool)> = info
        .supported_commands
        .iter()
        .map(|c| (c.name.as_str(), c.enabled, c.success_response))
        .collect();
    let want: Vec<(&str, bool, bool)> = COMMANDS
        .iter()
        .rev()
        .map(|c| (c.name, true, c.success_response))
        .collect();
    ensure!(
        got == want,
        "supported_commands\n  got  {got:?}\n  want {want:?}"
    );
    ensure!(
        COMMANDS.len() == 43,
        "{} commands in this build",
        COMMANDS.len()
    );
    let no_reply: Vec<&str> = got.iter().filter(|c| !c.2).map(|c| c.0).collect();
    ensure!(
        no_reply
            == [
                "guest-suspend-hybrid",
                "guest-suspend-ram",
                "guest-suspend-disk",
                "guest-shutdown"
            ],
        "commands without success response: {no_reply:?}"
    );
    Ok(())
}

/// Unknown commands, the Windows-only command, and bad arguments.
pub fn protocol_errors(ctx: &mut Ctx) -> Result<()> {
    let connection = ctx.client.connection();
    for name in ["guest-no-such-command", "guest-get-devices"] {
        expect_error(
            name,
            connection.execute_value::<Empty>(name, None),
            ErrorClass::CommandNotFound,
            &format!("The command {name} has not been found"),
        )?;
    }
    expect_error(
        "guest-file-open without a path",
        connection.execute_value("guest-file-open", Some(&json!({}))),
        ErrorClass::GenericError,
        "Parameter 'path' is missing",
    )?;
    expect_error(
        "guest-file-open with a numeric path",
        connection.execute_value("guest-file-open", Some(&json!({"path": 5}))),
        ErrorClass::GenericError,
        "Invalid parameter type for 'path', expected: string",
    )?;
    expect_error(
        "guest-ping with an argument",
        connection.execute_value("guest-ping", Some(&json!({"x": 1}))),
        ErrorClass::GenericError,
        "Parameter 'x' is unexpected",
    )?;
    Ok(())
}

/// The exact bytes of replies over virtio-serial, through a raw connection: the flush byte's
/// parse error, the sentinel before the delimited sync reply, several requests in one write,
/// a request split across writes, and an `id` echoed in QEMU's member order.
pub fn wire_framing(ctx: &mut Ctx) -> Result<()> {
    ctx.hang_up();
    let mut raw = RawConnection::connect(ctx.vm.agent_socket())?;
    let timeout = Duration::from_secs(10);
    // The first connection of this check may still see replies nobody read; the handshake
    // skips them, so sync first and compare bytes only afterwards.
    raw.sync(timeout)?;
    raw.send(b"\xff{\"execute\":\"guest-sync-delimited\",\"arguments\":{\"id\":4711}}")?;
    raw.expect(
        b"{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '\\uFFFD'\"}}\n\
          \xff{\"return\": 4711}\n",
        timeout,
    )?;
    raw.send(
        b"{\"execute\":\"guest-ping\"}{\"execute\":\"guest-sync\",\"arguments\":{\"id\":5}}\n",
    )?;
    raw.expect(b"{\"return\": {}}\n{\"return\": 5}\n", timeout)?;
    raw.send(b"{\"execute\":\"guest-sy")?;
    std::thread::sleep(Duration::from_millis(200));
    raw.send(b"nc\",\"arguments\":{\"id\":6},\"id\":\"abc\"}")?;
    raw.expect(b"{\"return\": 6, \"id\": \"abc\"}\n", timeout)?;
    raw.send(b"{\"execute\":\"guest-file-open\",\"arguments\":{},\"id\":[1,{\"a\":null}]}")?;
    raw.expect(
        b"{\"id\": [1, {\"a\": null}], \"error\": {\"class\": \"GenericError\", \"desc\": \"Parameter 'path' is missing\"}}\n",
        timeout,
    )?;
    drop(raw);
    ctx.client = ctx.vm.wait_for_agent(Duration::from_secs(20))?;
    Ok(())
}

/// Hanging up mid-request and mid-reply: the agent keeps its sessions (an open file handle)
/// and, after a new handshake, serves the next client.
pub fn reconnect(ctx: &mut Ctx) -> Result<()> {
    let path = format!("{}/hello.txt", crate::guest::DATA_MOUNT);
    let handle = ctx.client.guest_file_open(&GuestFileOpenArgs {
        path: path.clone(),
        mode: None,
    })?;
    let read = |ctx: &mut Ctx, count| {
        ctx.client.guest_file_read(&GuestFileReadArgs {
            handle,
            count: Some(count),
        })
    };
    let first = read(ctx, 6)?;
    ensure!(*first.buf_b64 == b"Hello "[..], "first read {first:?}");

    // Half a request, then the host hangs up: the 0xFF of the next handshake discards it.
    use std::io::Write;
    ctx.client
        .connection()
        .get_mut()
        .write_all(b"{\"execute\": \"guest-file-read\", \"argum")?;
    ctx.reconnect()?;
    let second = read(ctx, 5)?;
    ensure!(
        *second.buf_b64 == b"from "[..],
        "read after reconnect {second:?}"
    );

    // A request whose reply nobody reads: the next client's handshake skips it.
    ctx.client
        .connection()
        .send_only("guest-ping", None::<&Empty>)?;
    ctx.client
        .connection()
        .send_only("guest-info", None::<&Empty>)?;
    ctx.reconnect()?;
    let rest = read(ctx, 100)?;
    ensure!(
        *rest.buf_b64 == b"the qga test data disk.\n"[..] && rest.eof,
        "read after the second reconnect {rest:?}"
    );
    ctx.client
        .guest_file_close(&GuestFileCloseArgs { handle })?;

    // Several quick hang-ups in a row.
    for _ in 0..3 {
        ctx.reconnect()?;
    }
    ctx.client.guest_ping()?;
    let error = command_error(
        "reading the closed handle",
        ctx.client.guest_file_read(&GuestFileReadArgs {
            handle,
            count: None,
        }),
    )?;
    ensure!(
        error.desc == format!("handle '{handle}' has not been found"),
        "error {error:?}"
    );
    Ok(())
}
