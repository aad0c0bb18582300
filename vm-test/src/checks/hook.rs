//! The fsfreeze hook (`-F`, the default /etc/qemu/fsfreeze-hook of the initramfs): run with
//! `freeze` before freezing and `thaw` after thawing; a failing freeze hook leaves nothing
//! frozen, a failing thaw hook is reported after the filesystems are thawed.

use super::storage::status;
use super::{
    expect_error, read_file, read_text, shell_detached, shell_ok, wait_for_console, write_file, Ctx,
};
use crate::guest;
use anyhow::{ensure, Result};
use qga_types::qapi_runtime::ErrorClass;
use qga_types::{GuestFsfreezeFreezeListArgs, GuestFsfreezeStatus};
use std::time::Duration;

/// The hook's log, emptied after reading.
fn take_log(ctx: &mut Ctx) -> Result<String> {
    let log = read_text(&mut ctx.client, guest::FSFREEZE_HOOK_LOG)?;
    write_file(&mut ctx.client, guest::FSFREEZE_HOOK_LOG, b"")?;
    Ok(log)
}

fn expect_thawed_and_writable(ctx: &mut Ctx, what: &str) -> Result<()> {
    ensure!(
        status(ctx)? == GuestFsfreezeStatus::Thawed,
        "{what}: not thawed"
    );
    let path = format!("{}/hook-check.txt", guest::DATA_MOUNT);
    write_file(&mut ctx.client, &path, what.as_bytes())?;
    ensure!(
        read_file(&mut ctx.client, &path)? == what.as_bytes(),
        "{what}: {path} content"
    );
    Ok(())
}

pub fn hook_freeze_thaw(ctx: &mut Ctx) -> Result<()> {
    write_file(&mut ctx.client, guest::FSFREEZE_HOOK_LOG, b"")?;
    ensure!(ctx.client.guest_fsfreeze_freeze()? == 1, "freeze count");
    ensure!(
        status(ctx)? == GuestFsfreezeStatus::Frozen,
        "not frozen after freeze"
    );
    ensure!(ctx.client.guest_fsfreeze_thaw()? == 1, "thaw count");
    let log = take_log(ctx)?;
    ensure!(log == "freeze\nthaw\n", "hook log {log:?}");
    expect_thawed_and_writable(ctx, "after freeze and thaw")?;

    // freeze-list runs the hook too; when it matches nothing the agent leaves the frozen
    // state without running the thaw hook (qemu-ga's order).
    let frozen = ctx
        .client
        .guest_fsfreeze_freeze_list(&GuestFsfreezeFreezeListArgs {
            mountpoints: Some(vec!["/no/such/mount".into()]),
        })?;
    ensure!(frozen == 0, "froze {frozen}");
    let log = take_log(ctx)?;
    ensure!(log == "freeze\n", "hook log after freezing nothing {log:?}");
    expect_thawed_and_writable(ctx, "after freezing nothing")?;
    Ok(())
}

pub fn hook_failures(ctx: &mut Ctx) -> Result<()> {
    // A failing freeze hook: the error carries its output, nothing is frozen.
    write_file(&mut ctx.client, guest::FSFREEZE_HOOK_FAIL, b"7")?;
    expect_error(
        "freeze with a failing hook",
        ctx.client.guest_fsfreeze_freeze(),
        ErrorClass::GenericError,
        "child process has failed to execute fsfreeze hook: hook refused freeze\n",
    )?;
    let log = take_log(ctx)?;
    ensure!(log == "freeze\n", "hook log {log:?}");
    expect_thawed_and_writable(ctx, "after a failing freeze hook")?;

    // A failing thaw hook: the filesystems are thawed all the same, then the error. File
    // access is disabled while frozen, so a guest process started before the freeze arms
    // the hook once the frozen marker exists, and says so on the console.
    shell_ok(
        &mut ctx.client,
        &format!("rm {}", guest::FSFREEZE_HOOK_FAIL),
    )?;
    let armed = "fsfreeze hook armed to fail";
    let script = format!(
        "while [ ! -e {marker} ]; do sleep 0.05; done; echo 5 > {fail}; echo '{armed}' > /dev/console",
        marker = guest::FROZEN_MARKER,
        fail = guest::FSFREEZE_HOOK_FAIL,
    );
    shell_detached(&mut ctx.client, script)?;
    ensure!(ctx.client.guest_fsfreeze_freeze()? == 1, "freeze count");
    wait_for_console(ctx.vm, armed, Duration::from_secs(10))?;
    expect_error(
        "thaw with a failing hook",
        ctx.client.guest_fsfreeze_thaw(),
        ErrorClass::GenericError,
        "child process has failed to execute fsfreeze hook: hook refused thaw\n",
    )?;
    let log = take_log(ctx)?;
    ensure!(log == "freeze\nthaw\n", "hook log {log:?}");
    shell_ok(
        &mut ctx.client,
        &format!("rm {}", guest::FSFREEZE_HOOK_FAIL),
    )?;
    expect_thawed_and_writable(ctx, "after a failing thaw hook")?;
    Ok(())
}
