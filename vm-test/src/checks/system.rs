//! System information and settings: host name, OS, clock, time zone, load, users, vCPUs,
//! CPU statistics, memory blocks, network interfaces and routes.

use super::{expect_error, host_now_ns, read_text, shell_ok, Ctx, Flavor};
use crate::guest;
use anyhow::{bail, ensure, Context, Result};
use qga_types::qapi_runtime::ErrorClass;
use qga_types::{
    GuestCpuStats, GuestIpAddress, GuestIpAddressType, GuestLogicalProcessor, GuestMemoryBlock,
    GuestMemoryBlockResponse, GuestMemoryBlockResponseType, GuestSetMemoryBlocksArgs,
    GuestSetTimeArgs, GuestSetVcpusArgs, GuestTimezone, GuestUser,
};
use std::os::unix::net::UnixStream;
use std::time::Duration;

type Client = qga_types::Client<UnixStream>;

pub fn host_name(ctx: &mut Ctx) -> Result<()> {
    let got = ctx.client.guest_get_host_name()?;
    ensure!(got.host_name == guest::HOSTNAME, "host-name {got:?}");
    Ok(())
}

/// /etc/os-release as written into the initramfs, and uname from the booted kernel. The
/// single-quoted VARIANT is unquoted by qga-agent only (COMPATIBILITY.md #16); qemu-ga
/// takes it as unquoted text, which ends at the first space.
pub fn osinfo(ctx: &mut Ctx) -> Result<()> {
    let got = ctx.client.guest_get_osinfo()?;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let variant = match ctx.flavor {
        Flavor::Ours => "Agent test VM",
        Flavor::Reference => "'Agent",
    };
    let members = [
        ("id", text(&got.id), "qgatest"),
        ("name", text(&got.name), "QGA Test Linux"),
        (
            "pretty-name",
            text(&got.pretty_name),
            "QGA Test Linux 1 (\"initramfs\")",
        ),
        ("version", text(&got.version), "1 (initramfs)"),
        ("version-id", text(&got.version_id), "1"),
        ("variant", text(&got.variant), variant),
        ("variant-id", text(&got.variant_id), "agent-vm"),
        ("machine", text(&got.machine), "x86_64"),
        (
            "kernel-release",
            text(&got.kernel_release),
            ctx.kernel.release.as_str(),
        ),
    ];
    for (member, value, want) in members {
        ensure!(value == want, "{member} is {value:?}, expected {want:?}");
    }
    // uname's version: "#1 SMP PREEMPT_DYNAMIC Debian 6.1.x-y (date)".
    let version = text(&got.kernel_version);
    ensure!(
        version.starts_with('#')
            && version.contains(&format!("Debian {}", ctx.kernel.package_version)),
        "kernel-version {version:?} does not name Debian {}",
        ctx.kernel.package_version
    );
    Ok(())
}

/// Asserts the guest clock reads `expected_ns` give or take `slack`.
fn expect_guest_time(client: &mut Client, expected_ns: i64, slack: Duration) -> Result<()> {
    let got = client.guest_get_time()?;
    let off = (got - expected_ns).abs();
    ensure!(
        off <= slack.as_nanos() as i64,
        "guest time {got} is {:.1} s away from the expected {expected_ns}",
        off as f64 / 1e9
    );
    Ok(())
}

/// The guest clock starts from the RTC, which QEMU sets from the host clock; the value has
/// microsecond resolution (gettimeofday).
pub fn get_time(ctx: &mut Ctx) -> Result<()> {
    let got = ctx.client.guest_get_time()?;
    ensure!(got % 1000 == 0, "time {got} is not whole microseconds");
    expect_guest_time(&mut ctx.client, host_now_ns(), Duration::from_secs(30))
}

/// With a time: the system clock is set and `hwclock -w` copies it into the RTC. Without:
/// `hwclock -s` copies the RTC into the system clock. Out-of-range years are refused.
pub fn set_time(ctx: &mut Ctx) -> Result<()> {
    let hour = 3600 * 1_000_000_000_i64;
    let slack = Duration::from_secs(15);
    let client = &mut ctx.client;
    let set = |client: &mut Client, time| client.guest_set_time(&GuestSetTimeArgs { time });
    set(client, Some(host_now_ns() + hour))?;
    expect_guest_time(client, host_now_ns() + hour, slack)?;
    // Put only the system clock back (busybox date), leaving the RTC an hour ahead...
    let now_s = host_now_ns() / 1_000_000_000;
    shell_ok(client, &format!("date -u -s @{now_s} >/dev/null"))?;
    expect_guest_time(client, host_now_ns(), slack)?;
    // ...so that without a time the clock jumps to the RTC's hour-ahead time.
    set(client, None)?;
    expect_guest_time(client, host_now_ns() + hour, slack)?;
    // The RTC itself, read by the kernel's driver, is an hour ahead too.
    let rtc = read_text(client, "/sys/class/rtc/rtc0/since_epoch")?;
    let rtc: i64 = rtc.trim().parse().context("rtc0/since_epoch")?;
    ensure!(
        (rtc * 1_000_000_000 - (host_now_ns() + hour)).abs() < slack.as_nanos() as i64,
        "RTC reads {rtc}"
    );
    // Restore both clocks.
    set(client, Some(host_now_ns()))?;
    expect_guest_time(client, host_now_ns(), slack)?;
    // 2100-01-01 is past the accepted 1970..2069; qemu-ga appends an unrelated errno text.
    let year_2100 = 4_102_444_800 * 1_000_000_000_i64;
    let error = super::command_error("setting the year 2100", set(client, Some(year_2100)))?;
    let ok = match ctx.flavor {
        Flavor::Ours => error.desc == "Invalid time",
        Flavor::Reference => error.desc.starts_with("Invalid time"),
    };
    ensure!(
        ok && error.class == ErrorClass::GenericError,
        "error {error:?}"
    );
    expect_guest_time(client, host_now_ns(), slack)?;
    Ok(())
}

pub fn timezone(ctx: &mut Ctx) -> Result<()> {
    // No /etc/localtime and no TZ in the guest: UTC.
    let got = ctx.client.guest_get_timezone()?;
    let want = GuestTimezone {
        zone: Some("UTC".into()),
        offset: 0,
    };
    ensure!(got == want, "got {got:?}");
    Ok(())
}

/// The load average matches /proc/loadavg read just before or after.
pub fn load(ctx: &mut Ctx) -> Result<()> {
    let parse = |text: String| -> Result<Vec<f64>> {
        text.split_whitespace()
            .take(3)
            .map(|w| {
                w.parse::<f64>()
                    .with_context(|| format!("bad /proc/loadavg field {w:?}"))
            })
            .collect()
    };
    let before = parse(read_text(&mut ctx.client, "/proc/loadavg")?)?;
    let got = ctx.client.guest_get_load()?;
    let after = parse(read_text(&mut ctx.client, "/proc/loadavg")?)?;
    for (i, (key, value)) in [
        ("load1m", got.load1m),
        ("load5m", got.load5m),
        ("load15m", got.load15m),
    ]
    .into_iter()
    .enumerate()
    {
        let near = |x: f64| (value - x).abs() < 0.01;
        ensure!(
            near(before[i]) || near(after[i]),
            "{key} {value} but /proc/loadavg said {} / {}",
            before[i],
            after[i]
        );
    }
    Ok(())
}

/// The users of the utmp records the initramfs carries.
pub fn users(ctx: &mut Ctx) -> Result<()> {
    let got = ctx.client.guest_get_users()?;
    let want: Vec<GuestUser> = guest::USERS
        .iter()
        .map(|&(user, login_time)| GuestUser {
            user: user.into(),
            login_time,
            domain: None,
        })
        .collect();
    ensure!(got == want, "got {got:?}");
    Ok(())
}

/// One vCPU (-smp 1); cpu0 has no `online` file, so it cannot be offlined. guest-set-vcpus
/// stops at the first failure and reports how many entries it processed, or the error if
/// that was the first.
pub fn vcpus(ctx: &mut Ctx) -> Result<()> {
    let cpu = |logical_id, online| GuestLogicalProcessor {
        logical_id,
        online,
        can_offline: None,
    };
    let got = ctx.client.guest_get_vcpus()?;
    let want = vec![GuestLogicalProcessor {
        logical_id: 0,
        online: true,
        can_offline: Some(false),
    }];
    ensure!(got == want, "got {got:?}");
    let set = |ctx: &mut Ctx, vcpus| ctx.client.guest_set_vcpus(&GuestSetVcpusArgs { vcpus });
    ensure!(set(ctx, vec![cpu(0, true)])? == 1, "re-onlining cpu0");
    expect_error(
        "offlining cpu0",
        set(ctx, vec![cpu(0, false)]),
        ErrorClass::GenericError,
        "logical processor #0 can't be offlined",
    )?;
    let partial = set(ctx, vec![cpu(0, true), cpu(0, false), cpu(0, true)])?;
    ensure!(partial == 1, "a failure after one entry returned {partial}");
    expect_error(
        "a missing cpu",
        set(ctx, vec![cpu(7, true)]),
        ErrorClass::GenericError,
        "open(\"/sys/devices/system/cpu/cpu7/\"): No such file or directory",
    )?;
    Ok(())
}

/// One CPU; each counter (milliseconds) lies between /proc/stat readings (ticks of 10 ms)
/// taken before and after.
pub fn cpustats(ctx: &mut Ctx) -> Result<()> {
    let proc_stat = |ctx: &mut Ctx| -> Result<Vec<u64>> {
        let text = read_text(&mut ctx.client, "/proc/stat")?;
        let line = text
            .lines()
            .find(|l| l.starts_with("cpu0 "))
            .context("no cpu0 in /proc/stat")?;
        line.split_whitespace()
            .skip(1)
            .map(|v| Ok(v.parse::<u64>()? * 10))
            .collect()
    };
    let before = proc_stat(ctx)?;
    let got = ctx.client.guest_get_cpustats()?;
    let after = proc_stat(ctx)?;
    let [GuestCpuStats::Linux(cpu)] = got.as_slice() else {
        bail!("expected one Linux CPU, got {got:?}");
    };
    ensure!(cpu.cpu == 0, "cpu {}", cpu.cpu);
    let values = [
        Some(cpu.user),
        Some(cpu.nice),
        Some(cpu.system),
        Some(cpu.idle),
        cpu.iowait,
        cpu.irq,
        cpu.softirq,
        cpu.steal,
        cpu.guest,
        cpu.guestnice,
    ];
    ensure!(
        before.len() == values.len(),
        "/proc/stat has {} cpu0 columns",
        before.len()
    );
    for (i, value) in values.iter().enumerate() {
        let value = value.with_context(|| format!("column {i} missing in {cpu:?}"))?;
        ensure!(
            before[i] <= value && value <= after[i],
            "column {i}: {value} ms is not within /proc/stat's {} ..= {}",
            before[i],
            after[i]
        );
    }
    ensure!(cpu.user + cpu.system > 0, "no busy time: {cpu:?}");
    Ok(())
}

/// The block size from sysfs; blocks 0..n cover the RAM (all below the PCI hole) and are
/// online; onlining an online block succeeds; an absent block is not found (ENOENT).
pub fn memory_blocks(ctx: &mut Ctx) -> Result<()> {
    let text = read_text(
        &mut ctx.client,
        "/sys/devices/system/memory/block_size_bytes",
    )?;
    let size =
        u64::from_str_radix(text.trim(), 16).with_context(|| format!("block size {text:?}"))?;
    let info = ctx.client.guest_get_memory_block_info()?;
    ensure!(info.size == size, "size {}, sysfs says {size}", info.size);
    let count = (u64::from(ctx.vm.memory_mib()) << 20) / size;
    let blocks = ctx.client.guest_get_memory_blocks()?;
    let mut indexes: Vec<u64> = blocks.iter().map(|b| b.phys_index).collect();
    indexes.sort_unstable();
    ensure!(
        indexes == (0..count).collect::<Vec<_>>(),
        "blocks {blocks:?}"
    );
    for block in &blocks {
        let removable = read_text(
            &mut ctx.client,
            &format!(
                "/sys/devices/system/memory/memory{}/removable",
                block.phys_index
            ),
        )?;
        ensure!(
            block.online && block.can_offline == Some(removable.trim() == "1"),
            "block {block:?}, sysfs removable {removable:?}"
        );
    }
    let got = ctx
        .client
        .guest_set_memory_blocks(&GuestSetMemoryBlocksArgs {
            mem_blks: vec![
                GuestMemoryBlock {
                    phys_index: 0,
                    online: true,
                    can_offline: None,
                },
                GuestMemoryBlock {
                    phys_index: 100_000,
                    online: true,
                    can_offline: None,
                },
            ],
        })?;
    let want = vec![
        GuestMemoryBlockResponse {
            phys_index: 0,
            response: GuestMemoryBlockResponseType::Success,
            error_code: None,
        },
        GuestMemoryBlockResponse {
            phys_index: 100_000,
            response: GuestMemoryBlockResponseType::NotFound,
            error_code: Some(2),
        },
    ];
    ensure!(got == want, "set-memory-blocks returned {got:?}");
    Ok(())
}

/// lo (brought up by /init) with its addresses, all-zero MAC and statistics that match sysfs.
pub fn network(ctx: &mut Ctx) -> Result<()> {
    let list = ctx.client.guest_network_get_interfaces()?;
    let names: Vec<&str> = list.iter().map(|i| i.name.as_str()).collect();
    ensure!(names == ["lo"], "interfaces {names:?}");
    let lo = &list[0];
    ensure!(
        lo.hardware_address.as_deref() == Some("00:00:00:00:00:00"),
        "lo hardware address {:?}",
        lo.hardware_address
    );
    let address = |ip: &str, ip_address_type, prefix| GuestIpAddress {
        ip_address: ip.into(),
        ip_address_type,
        prefix,
    };
    let want = vec![
        address("127.0.0.1", GuestIpAddressType::Ipv4, 8),
        address("::1", GuestIpAddressType::Ipv6, 128),
    ];
    ensure!(
        lo.ip_addresses.as_ref() == Some(&want),
        "lo addresses {:?}",
        lo.ip_addresses
    );
    let stats = lo.statistics.as_ref().context("no statistics for lo")?;
    let sysfs = |ctx: &mut Ctx, name: &str| -> Result<u64> {
        let path = format!("/sys/class/net/lo/statistics/{name}");
        Ok(read_text(&mut ctx.client, &path)?.trim().parse()?)
    };
    // Nothing uses lo in the guest: the counters are stable.
    for (name, value) in [
        ("rx_bytes", stats.rx_bytes),
        ("rx_packets", stats.rx_packets),
        ("rx_errors", stats.rx_errs),
        ("rx_dropped", stats.rx_dropped),
        ("tx_bytes", stats.tx_bytes),
        ("tx_packets", stats.tx_packets),
        ("tx_errors", stats.tx_errs),
        ("tx_dropped", stats.tx_dropped),
    ] {
        let want = sysfs(ctx, name)?;
        ensure!(value == want, "{name} {value}, sysfs says {want}");
    }
    Ok(())
}

/// Only lo is up: no IPv4 routes, and IPv6 routes through lo only (::1 among them).
pub fn routes(ctx: &mut Ctx) -> Result<()> {
    let list = ctx.client.guest_network_get_route()?;
    ensure!(
        list.iter().all(|r| r.version == 6 && r.iface == "lo"),
        "unexpected routes in {list:?}"
    );
    let local = list
        .iter()
        .find(|r| r.destination == "::1")
        .with_context(|| format!("no route to ::1 in {list:?}"))?;
    ensure!(
        local.desprefixlen.as_deref() == Some("128")
            && local.nexthop.as_deref() == Some("::")
            && local.gateway.is_none(),
        "route {local:?}"
    );
    Ok(())
}
