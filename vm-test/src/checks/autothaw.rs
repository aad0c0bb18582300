//! `--freeze-timeout` (a qga-agent extension): a host that freezes the guest's filesystems and
//! then disappears does not leave them frozen. The agent thaws them by itself once the
//! timeout has passed, with no host connected, runs the hook's thaw and says why.

use super::storage::status;
use super::{read_text, shell_detached, wait_for_console, write_file, Ctx};
use crate::guest;
use anyhow::{ensure, Result};
use qga_types::GuestFsfreezeStatus;
use std::time::{Duration, Instant};

/// The suite's `--freeze-timeout` (see [`crate::suite::AUTOTHAW`]), in seconds.
pub const FREEZE_TIMEOUT: u64 = 10;

pub fn thaw_after_host_left(ctx: &mut Ctx) -> Result<()> {
    ensure!(
        status(ctx)? == GuestFsfreezeStatus::Thawed,
        "not thawed at start"
    );
    write_file(&mut ctx.client, guest::FSFREEZE_HOOK_LOG, b"")?;
    // A guest process writes to the data disk once it is frozen; the write blocks until a
    // thaw and then says so on the console.
    let path = format!("{}/autothaw.txt", guest::DATA_MOUNT);
    let blocked = "autothaw: writing to the frozen filesystem";
    let done = "autothaw: the write completed";
    let script = format!(
        "while [ ! -e {marker} ]; do sleep 0.05; done; echo '{blocked}' > /dev/console; \
         echo written > {path}; sync; echo '{done}' > /dev/console",
        marker = guest::FROZEN_MARKER,
    );
    shell_detached(&mut ctx.client, script)?;
    let frozen = ctx.client.guest_fsfreeze_freeze()?;
    let frozen_at = Instant::now();
    ensure!(frozen == 1, "froze {frozen} filesystems, expected 1");
    ensure!(
        status(ctx)? == GuestFsfreezeStatus::Frozen,
        "status after freeze"
    );
    wait_for_console(ctx.vm, blocked, Duration::from_secs(10))?;
    std::thread::sleep(Duration::from_secs(1));
    ensure!(
        !ctx.vm.console().contains(done),
        "the write completed on a frozen filesystem"
    );

    // The host goes away without thawing.
    ctx.hang_up();
    let limit = Duration::from_secs(FREEZE_TIMEOUT + 60);
    wait_for_console(ctx.vm, done, limit)?;
    let took = frozen_at.elapsed();
    ensure!(
        took >= Duration::from_secs(FREEZE_TIMEOUT - 1),
        "thawed after {took:?}, before the timeout of {FREEZE_TIMEOUT} s"
    );
    let reason = format!("filesystems stayed frozen for {FREEZE_TIMEOUT} s (freeze-timeout)");
    ensure!(
        ctx.vm.console().contains(&reason),
        "the agent did not log why it thawed ({reason:?})"
    );

    ctx.client = ctx.vm.wait_for_agent(Duration::from_secs(20))?;
    ensure!(
        status(ctx)? == GuestFsfreezeStatus::Thawed,
        "status after the timeout"
    );
    let log = read_text(&mut ctx.client, guest::FSFREEZE_HOOK_LOG)?;
    ensure!(log == "freeze\nthaw\n", "hook log {log:?}");
    let written = read_text(&mut ctx.client, &path)?;
    ensure!(written == "written\n", "{path}: {written:?}");
    let info = ctx.client.guest_info()?;
    ensure!(
        info.supported_commands.iter().all(|c| c.enabled),
        "commands still disabled after the automatic thaw"
    );
    eprintln!(
        "        thawed by the agent {} ms after the freeze (timeout {FREEZE_TIMEOUT} s)",
        took.as_millis()
    );
    Ok(())
}
