//! The subcommands that are one or two requests: queries shown as tables or fields, and the
//! simple changes (time, vcpus, shutdown, suspend, ssh keys, password, fstrim, thaw).

use crate::cli::{SshAction, SuspendMode, TimeAction, VcpuAction};
use crate::output::{bytes, fields, opt, table, to_json, utc, Report};
use crate::transport::Agent;
use crate::Failure;
use qga_types::*;
use serde_json::json;

type Done = Result<Report, Failure>;

/// Runs a request and turns its error into a failure naming the command.
macro_rules! ask {
    ($agent:expr, $command:literal, $method:ident $(, $args:expr)?) => {{
        let agent: &mut Agent = $agent;
        match agent.c().$method($($args)?) {
            Ok(value) => value,
            Err(e) => return Err(agent.fail($command, e)),
        }
    }};
}

pub fn ping(agent: &mut Agent) -> Done {
    ask!(agent, "guest-ping", guest_ping);
    Ok(Report::new(json!({}), "the guest agent answers"))
}

pub fn info(agent: &mut Agent) -> Done {
    let info = ask!(agent, "guest-info", guest_info);
    let enabled = info.supported_commands.iter().filter(|c| c.enabled).count();
    let rows = info
        .supported_commands
        .iter()
        .map(|c| {
            [
                c.name.clone(),
                yes_no(c.enabled).to_owned(),
                yes_no(c.success_response).to_owned(),
            ]
        })
        .collect();
    let text = format!(
        "version {} ({enabled} of {} commands enabled)\n{}",
        info.version,
        info.supported_commands.len(),
        table(["COMMAND", "ENABLED", "REPLIES"], rows)
    );
    Ok(Report::of(&info, text))
}

pub fn os(agent: &mut Agent) -> Done {
    let os = ask!(agent, "guest-get-osinfo", guest_get_osinfo);
    let text = fields(&[
        ("name", opt(&os.pretty_name.clone().or(os.name.clone()))),
        ("id", opt(&os.id)),
        ("version", opt(&os.version)),
        ("kernel", opt(&os.kernel_release)),
        ("kernel build", opt(&os.kernel_version)),
        ("machine", opt(&os.machine)),
    ]);
    Ok(Report::of(&os, text))
}

pub fn time(agent: &mut Agent, action: &Option<TimeAction>) -> Done {
    let set = |agent: &mut Agent, time: Option<i64>| -> Done {
        ask!(
            agent,
            "guest-set-time",
            guest_set_time,
            &GuestSetTimeArgs { time }
        );
        let now = ask!(agent, "guest-get-time", guest_get_time);
        Ok(Report::new(
            json!({ "time": now }),
            format!("guest clock set, now {}", clock(now)),
        ))
    };
    match action {
        None => {
            let now = ask!(agent, "guest-get-time", guest_get_time);
            let host = host_nanos();
            let skew = (now - host) as f64 / 1e9;
            Ok(Report::new(
                json!({ "time": now, "host-time": host }),
                format!("{} (guest - host: {skew:+.3} s)", clock(now)),
            ))
        }
        Some(TimeAction::Set { nanos }) => set(agent, *nanos),
        Some(TimeAction::Sync) => set(agent, Some(host_nanos())),
    }
}

fn host_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// Nanoseconds since the epoch as a date with milliseconds.
fn clock(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let millis = nanos.rem_euclid(1_000_000_000) / 1_000_000;
    let date = utc(secs);
    let (day_time, zone) = date.split_at(date.len() - 4);
    format!("{day_time}.{millis:03}{zone}")
}

pub fn hostname(agent: &mut Agent) -> Done {
    let name = ask!(agent, "guest-get-host-name", guest_get_host_name);
    Ok(Report::of(&name, name.host_name.clone()))
}

pub fn timezone(agent: &mut Agent) -> Done {
    let tz = ask!(agent, "guest-get-timezone", guest_get_timezone);
    let sign = if tz.offset < 0 { '-' } else { '+' };
    let off = tz.offset.abs();
    let text = format!(
        "{} (UTC{sign}{:02}:{:02})",
        tz.zone.as_deref().unwrap_or("unnamed zone"),
        off / 3600,
        off / 60 % 60
    );
    Ok(Report::of(&tz, text))
}

pub fn users(agent: &mut Agent) -> Done {
    let users = ask!(agent, "guest-get-users", guest_get_users);
    let rows = users
        .iter()
        .map(|u| [u.user.clone(), opt(&u.domain), utc(u.login_time as i64)])
        .collect();
    Ok(Report::of(&users, table(["USER", "DOMAIN", "LOGIN"], rows)))
}

pub fn load(agent: &mut Agent) -> Done {
    let l = ask!(agent, "guest-get-load", guest_get_load);
    let text = format!("{:.2} {:.2} {:.2}", l.load1m, l.load5m, l.load15m);
    Ok(Report::of(&l, text))
}

pub fn interfaces(agent: &mut Agent) -> Done {
    let ifaces = ask!(
        agent,
        "guest-network-get-interfaces",
        guest_network_get_interfaces
    );
    let rows = ifaces
        .iter()
        .map(|i| {
            let addresses = i
                .ip_addresses
                .iter()
                .flatten()
                .map(|a| format!("{}/{}", a.ip_address, a.prefix))
                .collect::<Vec<_>>()
                .join("\n");
            let (rx, tx) = i
                .statistics
                .as_ref()
                .map_or((String::from("-"), String::from("-")), |s| {
                    (bytes(s.rx_bytes), bytes(s.tx_bytes))
                });
            [i.name.clone(), opt(&i.hardware_address), addresses, rx, tx]
        })
        .collect();
    Ok(Report::of(
        &ifaces,
        table(["NAME", "MAC", "ADDRESSES", "RX", "TX"], rows),
    ))
}

pub fn routes(agent: &mut Agent) -> Done {
    let routes = ask!(agent, "guest-network-get-route", guest_network_get_route);
    let rows = routes
        .iter()
        .map(|r| {
            let prefix = r.desprefixlen.as_ref().or(r.mask.as_ref());
            let dest = match prefix {
                Some(p) => format!("{}/{p}", r.destination),
                None => r.destination.clone(),
            };
            [
                format!("IPv{}", r.version),
                dest,
                opt(&r.gateway.clone().or(r.nexthop.clone())),
                r.iface.clone(),
                r.metric.to_string(),
            ]
        })
        .collect();
    Ok(Report::of(
        &routes,
        table(
            ["FAMILY", "DESTINATION", "GATEWAY", "IFACE", "METRIC"],
            rows,
        ),
    ))
}

pub fn fsinfo(agent: &mut Agent) -> Done {
    let fss = ask!(agent, "guest-get-fsinfo", guest_get_fsinfo);
    let rows = fss
        .iter()
        .map(|f| {
            [
                f.mountpoint.clone(),
                f.r#type.clone(),
                f.name.clone(),
                f.used_bytes.map_or("-".into(), bytes),
                f.total_bytes.map_or("-".into(), bytes),
            ]
        })
        .collect();
    Ok(Report::of(
        &fss,
        table(["MOUNTPOINT", "TYPE", "DEVICE", "USED", "TOTAL"], rows),
    ))
}

pub fn disks(agent: &mut Agent) -> Done {
    let disks = ask!(agent, "guest-get-disks", guest_get_disks);
    let rows = disks
        .iter()
        .map(|d| {
            [
                d.name.clone(),
                if d.partition { "partition" } else { "disk" }.to_owned(),
                d.dependencies.as_deref().unwrap_or_default().join(", "),
                opt(&d.alias),
                d.address
                    .as_ref()
                    .map_or("-".into(), |a| a.bus_type.as_str().to_owned()),
            ]
        })
        .collect();
    Ok(Report::of(
        &disks,
        table(["NAME", "KIND", "ON", "ALIAS", "BUS"], rows),
    ))
}

pub fn vcpus(agent: &mut Agent, action: &Option<VcpuAction>) -> Done {
    let (list, online) = match action {
        None => {
            let mut cpus = ask!(agent, "guest-get-vcpus", guest_get_vcpus);
            cpus.sort_by_key(|c| c.logical_id);
            let online = cpus.iter().filter(|c| c.online).count();
            let rows = cpus
                .iter()
                .map(|c| {
                    [
                        c.logical_id.to_string(),
                        yes_no(c.online).to_owned(),
                        c.can_offline.map_or("-", yes_no).to_owned(),
                    ]
                })
                .collect();
            let text = format!(
                "{online} of {} online\n{}",
                cpus.len(),
                table(["CPU", "ONLINE", "CAN-OFFLINE"], rows)
            );
            return Ok(Report::of(&cpus, text));
        }
        Some(VcpuAction::On { list }) => (list, true),
        Some(VcpuAction::Off { list }) => (list, false),
    };
    let ids = parse_list(list)?;
    let vcpus = ids
        .iter()
        .map(|&logical_id| GuestLogicalProcessor {
            logical_id,
            online,
            can_offline: None,
        })
        .collect();
    let done = ask!(
        agent,
        "guest-set-vcpus",
        guest_set_vcpus,
        &GuestSetVcpusArgs { vcpus }
    );
    let state = if online { "on" } else { "off" };
    let text = format!("{done} of {} vCPUs set {state}line", ids.len());
    if done != ids.len() as i64 {
        return Err(Failure::new(format!(
            "guest-set-vcpus: only {done} of {} vCPUs changed (the first failure stops the agent)",
            ids.len()
        )));
    }
    Ok(Report::new(json!({ "changed": done }), text))
}

/// `1,3-5` to `[1, 3, 4, 5]`.
pub fn parse_list(text: &str) -> Result<Vec<i64>, Failure> {
    let bad = || Failure::usage(format!("not a CPU list like 1,3-5: {text:?}"));
    let mut ids = Vec::new();
    for part in text.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (i64, i64) = (
                    a.trim().parse().map_err(|_| bad())?,
                    b.trim().parse().map_err(|_| bad())?,
                );
                if a > b || b - a > 4096 {
                    return Err(bad());
                }
                ids.extend(a..=b);
            }
            None => ids.push(part.trim().parse().map_err(|_| bad())?),
        }
    }
    Ok(ids)
}

pub fn memory_blocks(agent: &mut Agent) -> Done {
    let mut blocks = ask!(agent, "guest-get-memory-blocks", guest_get_memory_blocks);
    blocks.sort_by_key(|b| b.phys_index);
    let size = ask!(
        agent,
        "guest-get-memory-block-info",
        guest_get_memory_block_info
    );
    let online = blocks.iter().filter(|b| b.online).count();
    let rows = blocks
        .iter()
        .map(|b| {
            [
                b.phys_index.to_string(),
                yes_no(b.online).to_owned(),
                b.can_offline.map_or("-", yes_no).to_owned(),
            ]
        })
        .collect();
    let text = format!(
        "{online} of {} blocks online, {} each\n{}",
        blocks.len(),
        bytes(size.size),
        table(["BLOCK", "ONLINE", "CAN-OFFLINE"], rows)
    );
    Ok(Report::new(
        json!({ "block-size": size.size, "blocks": to_json(&blocks) }),
        text,
    ))
}

pub fn stats(agent: &mut Agent) -> Done {
    let cpus = ask!(agent, "guest-get-cpustats", guest_get_cpustats);
    let disks = ask!(agent, "guest-get-diskstats", guest_get_diskstats);
    let cpu_rows = cpus
        .iter()
        .filter_map(|c| match c {
            GuestCpuStats::Linux(s) => Some([
                s.cpu.to_string(),
                s.user.to_string(),
                s.nice.to_string(),
                s.system.to_string(),
                s.idle.to_string(),
                opt(&s.iowait),
                opt(&s.steal),
            ]),
            _ => None,
        })
        .collect();
    let disk_rows = disks
        .iter()
        .map(|d| {
            [
                d.name.clone(),
                format!("{}:{}", d.major, d.minor),
                opt(&d.stats.read_ios),
                opt(&d.stats.read_sectors),
                opt(&d.stats.write_ios),
                opt(&d.stats.write_sectors),
            ]
        })
        .collect();
    let text = format!(
        "{}\n\n{}",
        table(
            ["CPU", "USER", "NICE", "SYSTEM", "IDLE", "IOWAIT", "STEAL"],
            cpu_rows
        ),
        table(
            [
                "DISK",
                "DEV",
                "READS",
                "READ-SECTORS",
                "WRITES",
                "WRITE-SECTORS"
            ],
            disk_rows
        )
    );
    Ok(Report::new(
        json!({ "cpu": to_json(&cpus), "disk": to_json(&disks) }),
        text,
    ))
}

pub fn fsfreeze_status(agent: &mut Agent) -> Done {
    let status = ask!(agent, "guest-fsfreeze-status", guest_fsfreeze_status);
    Ok(Report::of(&status, status.as_str().to_owned()))
}

pub fn thaw(agent: &mut Agent) -> Done {
    let n = ask!(agent, "guest-fsfreeze-thaw", guest_fsfreeze_thaw);
    Ok(Report::new(json!(n), format!("{n} filesystems thawed")))
}

pub fn fstrim(agent: &mut Agent, minimum: Option<i64>) -> Done {
    let trimmed = ask!(
        agent,
        "guest-fstrim",
        guest_fstrim,
        &GuestFstrimArgs { minimum }
    );
    let rows = trimmed
        .paths
        .iter()
        .map(|p| {
            [
                p.path.clone(),
                p.trimmed.map_or("-".into(), |t| bytes(t.max(0) as u64)),
                opt(&p.error),
            ]
        })
        .collect();
    Ok(Report::of(
        &trimmed,
        table(["PATH", "TRIMMED", "ERROR"], rows),
    ))
}

pub fn shutdown(agent: &mut Agent, reboot: bool, halt: bool) -> Done {
    let mode = if reboot {
        "reboot"
    } else if halt {
        "halt"
    } else {
        "powerdown"
    };
    let args = GuestShutdownArgs {
        mode: Some(mode.to_owned()),
    };
    ask!(agent, "guest-shutdown", guest_shutdown, &args);
    sent_only(agent, "guest-shutdown", format!("{mode} requested"))
}

pub fn suspend(agent: &mut Agent, mode: SuspendMode) -> Done {
    let (name, what) = match mode {
        SuspendMode::Disk => {
            ask!(agent, "guest-suspend-disk", guest_suspend_disk);
            ("guest-suspend-disk", "suspend to disk")
        }
        SuspendMode::Ram => {
            ask!(agent, "guest-suspend-ram", guest_suspend_ram);
            ("guest-suspend-ram", "suspend to RAM")
        }
        SuspendMode::Hybrid => {
            ask!(agent, "guest-suspend-hybrid", guest_suspend_hybrid);
            ("guest-suspend-hybrid", "hybrid suspend")
        }
    };
    sent_only(agent, name, format!("{what} requested"))
}

/// After a command that answers only on failure: a short wait for such an answer (a
/// disabled command, a missing tool in the guest) so the user hears about it.
fn sent_only(agent: &mut Agent, name: &str, text: String) -> Done {
    let wait = agent.timeout.min(std::time::Duration::from_millis(500));
    // Silence (or the guest going away) is what success looks like.
    if let Ok(message) = agent.c_for(wait).connection().read_message() {
        if let Some(desc) = message.pointer("/error/desc").and_then(|d| d.as_str()) {
            return Err(Failure::new(format!("{name}: {desc}")));
        }
    }
    Ok(Report::new(json!({}), text))
}

pub fn ssh_keys(agent: &mut Agent, action: &SshAction, keys: Vec<String>) -> Done {
    match action {
        SshAction::List { user } => {
            let got = ask!(
                agent,
                "guest-ssh-get-authorized-keys",
                guest_ssh_get_authorized_keys,
                &GuestSshGetAuthorizedKeysArgs {
                    username: user.clone()
                }
            );
            Ok(Report::of(&got, got.keys.join("\n")))
        }
        SshAction::Add { user, reset, .. } => {
            let n = keys.len();
            ask!(
                agent,
                "guest-ssh-add-authorized-keys",
                guest_ssh_add_authorized_keys,
                &GuestSshAddAuthorizedKeysArgs {
                    username: user.clone(),
                    keys,
                    reset: reset.then_some(true),
                }
            );
            Ok(Report::new(json!({}), format!("{n} keys added for {user}")))
        }
        SshAction::Remove { user, .. } => {
            let n = keys.len();
            ask!(
                agent,
                "guest-ssh-remove-authorized-keys",
                guest_ssh_remove_authorized_keys,
                &GuestSshRemoveAuthorizedKeysArgs {
                    username: user.clone(),
                    keys,
                }
            );
            Ok(Report::new(
                json!({}),
                format!("{n} keys removed for {user}"),
            ))
        }
    }
}

pub fn password(agent: &mut Agent, user: &str, password: &[u8], crypted: bool) -> Done {
    let args = GuestSetUserPasswordArgs {
        username: user.to_owned(),
        password: qapi_runtime::base64::encode(password),
        crypted,
    };
    ask!(
        agent,
        "guest-set-user-password",
        guest_set_user_password,
        &args
    );
    Ok(Report::new(json!({}), format!("password of {user} set")))
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_list("1,3-5").ok(), Some(vec![1, 3, 4, 5]));
        assert_eq!(parse_list("0").ok(), Some(vec![0]));
        assert!(parse_list("5-3").is_err());
        assert!(parse_list("a").is_err());
        assert_eq!(
            clock(1_700_000_000_123_456_789),
            "2023-11-14 22:13:20.123 UTC"
        );
    }
}
