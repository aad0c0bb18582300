//! Power commands, which reply only on failure: guest-suspend-* (with a real suspend to RAM
//! and a wake-up through QMP), guest-shutdown (power-off and reboot end the VM), and memory
//! hot-plug through QMP brought online with guest-set-memory-blocks.

use super::{expect_error, read_text, Ctx, Flavor};
use anyhow::{bail, ensure, Context, Result};
use qga_types::qapi_runtime::{ClientError, ErrorClass, QapiError};
use qga_types::{
    GuestMemoryBlock, GuestMemoryBlockResponse, GuestMemoryBlockResponseType,
    GuestSetMemoryBlocksArgs, GuestShutdownArgs,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// After a command without success response: the error reply it sent, or `None` if nothing
/// arrived within `wait` (success) or the connection ended (the VM went away).
fn reply_after_send(ctx: &mut Ctx, wait: Duration) -> Result<Option<QapiError>> {
    let connection = ctx.client.connection();
    connection.get_ref().set_read_timeout(Some(wait))?;
    let message = connection.read_message();
    connection
        .get_ref()
        .set_read_timeout(Some(crate::machine::COMMAND_TIMEOUT))?;
    let message = match message {
        Ok(message) => message,
        Err(ClientError::Timeout | ClientError::Closed) => return Ok(None),
        Err(err) => return Err(err.into()),
    };
    let error = message
        .get("error")
        .with_context(|| format!("a success reply where none is sent: {message}"))?;
    let text = |key| {
        error
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Ok(Some(QapiError::new(
        ErrorClass::from_wire(&text("class")),
        text("desc"),
    )))
}

/// qemu-ga writes /sys/power/state with g_file_set_contents, which tries to create a
/// temporary file next to it in sysfs and fails; qga-agent writes the file itself.
fn reference_sysfs_error(error: &QapiError) -> bool {
    error.class == ErrorClass::GenericError
        && error.desc.starts_with(
            "suspend: cannot write to '/sys/power/state': Failed to create file \u{201c}/sys/power/state.",
        )
        && error.desc.ends_with("\u{201d}: Permission denied")
}

/// Hybrid sleep has no sysfs method (and the guest has neither systemd nor pm-utils);
/// hibernation is offered by the kernel but fails without swap; suspend to RAM really
/// suspends (S3), QEMU wakes the guest and the agent answers on the same connection.
pub fn suspend(ctx: &mut Ctx) -> Result<()> {
    ctx.client.guest_suspend_hybrid()?;
    let error = reply_after_send(ctx, Duration::from_secs(10))?;
    ensure!(
        error
            == Some(QapiError::generic(
                "the requested suspend mode is not supported by the guest"
            )),
        "guest-suspend-hybrid: {error:?}"
    );

    ctx.client.guest_suspend_disk()?;
    let error = reply_after_send(ctx, Duration::from_secs(20))?
        .context("guest-suspend-disk hibernated without swap")?;
    let ok = match ctx.flavor {
        Flavor::Ours => {
            error
                == QapiError::generic("suspend: cannot write to '/sys/power/state': No such device")
        }
        Flavor::Reference => reference_sysfs_error(&error),
    };
    ensure!(ok, "guest-suspend-disk: {error:?}");
    ensure!(
        ctx.vm.console().contains("PM: Cannot find swap device") == (ctx.flavor == Flavor::Ours),
        "the kernel's hibernation attempt (console) does not match the agent"
    );

    let mut qmp = ctx.vm.qmp()?;
    ctx.client.guest_suspend_ram()?;
    match ctx.flavor {
        Flavor::Reference => {
            let error = reply_after_send(ctx, Duration::from_secs(10))?
                .context("qemu-ga suspended although its sysfs write cannot work")?;
            ensure!(
                reference_sysfs_error(&error),
                "guest-suspend-ram: {error:?}"
            );
            ensure!(qmp.status()? == "running", "the VM is not running");
        }
        Flavor::Ours => {
            qmp.wait_for_status("suspended", Duration::from_secs(20))?;
            ensure!(
                reply_after_send(ctx, Duration::from_millis(200))?.is_none(),
                "an error reply although the guest suspended"
            );
            qmp.execute("system_wakeup", None)?;
            qmp.wait_for_status("running", Duration::from_secs(10))?;
            // Same connection, no new handshake: the agent carries on where it stopped.
            ctx.client
                .guest_ping()
                .context("no answer after the wake-up")?;
        }
    }
    // The kernel counts completed suspends.
    let count = read_text(&mut ctx.client, "/sys/power/suspend_stats/success")?;
    let want = if ctx.flavor == Flavor::Ours { "1" } else { "0" };
    ensure!(
        count.trim() == want,
        "{count:?} suspends completed, expected {want}"
    );
    Ok(())
}

/// A mode that does not exist is refused (qemu-ga's text lacks the closing parenthesis,
/// COMPATIBILITY.md #12) and the VM keeps running.
pub fn shutdown_bad_mode(ctx: &mut Ctx) -> Result<()> {
    ctx.client.guest_shutdown(&GuestShutdownArgs {
        mode: Some("sideways".into()),
    })?;
    let error = reply_after_send(ctx, Duration::from_secs(10))?;
    ensure!(
        error
            == Some(QapiError::generic(
                "mode is invalid (valid values are: halt|powerdown|reboot"
            )),
        "guest-shutdown sideways: {error:?}"
    );
    ctx.client.guest_ping()?;
    expect_error(
        "guest-shutdown with a numeric mode",
        ctx.client
            .connection()
            .execute_value("guest-shutdown", Some(&json!({"mode": 1}))),
        ErrorClass::GenericError,
        "Invalid parameter type for 'mode', expected: string",
    )
}

/// guest-shutdown in `mode`: no reply, the guest runs `shutdown` (a script asking /init to
/// stop the agent and power off or reboot) and QEMU exits (-no-reboot turns a reboot into an
/// exit).
fn shutdown_in(ctx: &mut Ctx, mode: Option<&str>, init_action: &str) -> Result<()> {
    ctx.client.guest_shutdown(&GuestShutdownArgs {
        mode: mode.map(str::to_owned),
    })?;
    if let Some(error) = reply_after_send(ctx, Duration::from_secs(3))? {
        bail!("guest-shutdown replied {error:?}");
    }
    let status = ctx.vm.wait_for_exit(Duration::from_secs(60))?;
    ensure!(status.success(), "QEMU exited with {status}");
    let console = ctx.vm.console();
    for line in [
        "shutdown: hypervisor initiated shutdown".to_string(),
        format!("init: {init_action} requested"),
        "init: agent exited with status 0".to_string(),
    ] {
        ensure!(console.contains(&line), "the console lacks {line:?}");
    }
    Ok(())
}

pub fn shutdown_powerdown(ctx: &mut Ctx) -> Result<()> {
    shutdown_in(ctx, None, "poweroff")
}

pub fn shutdown_reboot(ctx: &mut Ctx) -> Result<()> {
    shutdown_in(ctx, Some("reboot"), "reboot")
}

/// A DIMM plugged in through QMP appears as offline memory blocks (the guest has no udev to
/// online them); guest-set-memory-blocks brings them online and takes them offline again.
pub fn memory_hotplug(ctx: &mut Ctx) -> Result<()> {
    let size = ctx.client.guest_get_memory_block_info()?.size;
    let before: Vec<u64> = ctx
        .client
        .guest_get_memory_blocks()?
        .iter()
        .map(|b| b.phys_index)
        .collect();
    let mut qmp = ctx.vm.qmp()?;
    let dimm = 128_u64 << 20;
    qmp.execute(
        "object-add",
        Some(json!({"qom-type": "memory-backend-ram", "id": "hotmem", "size": dimm})),
    )?;
    qmp.execute(
        "device_add",
        Some(json!({"driver": "pc-dimm", "id": "dimm0", "memdev": "hotmem"})),
    )?;
    let deadline = Instant::now() + Duration::from_secs(20);
    let added = loop {
        let blocks = ctx.client.guest_get_memory_blocks()?;
        let added: Vec<_> = blocks
            .into_iter()
            .filter(|b| !before.contains(&b.phys_index))
            .collect();
        if added.len() as u64 == dimm / size {
            break added;
        }
        ensure!(
            Instant::now() < deadline,
            "the hot-plugged DIMM did not show up: new blocks {added:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    ensure!(
        added.iter().all(|b| !b.online),
        "hot-plugged blocks came up online: {added:?}"
    );
    let set = |ctx: &mut Ctx, online| {
        let mem_blks = added
            .iter()
            .map(|b| GuestMemoryBlock {
                phys_index: b.phys_index,
                online,
                can_offline: None,
            })
            .collect();
        ctx.client
            .guest_set_memory_blocks(&GuestSetMemoryBlocksArgs { mem_blks })
    };
    let success: Vec<_> = added
        .iter()
        .map(|b| GuestMemoryBlockResponse {
            phys_index: b.phys_index,
            response: GuestMemoryBlockResponseType::Success,
            error_code: None,
        })
        .collect();
    for online in [true, false] {
        let got = set(ctx, online)?;
        ensure!(got == success, "setting online={online}: {got:?}");
        let now = ctx.client.guest_get_memory_blocks()?;
        for block in &added {
            let state = now
                .iter()
                .find(|b| b.phys_index == block.phys_index)
                .with_context(|| format!("block {} vanished", block.phys_index))?;
            ensure!(state.online == online, "after online={online}: {state:?}");
            if online {
                // The suite's kernel policy puts it in ZONE_MOVABLE (see suite.rs).
                let path = format!(
                    "/sys/devices/system/memory/memory{}/valid_zones",
                    block.phys_index
                );
                let zone = read_text(&mut ctx.client, &path)?;
                ensure!(zone.trim() == "Movable", "{path}: {zone:?}");
            }
        }
    }
    Ok(())
}
