//! guest-get-diskstats and guest-get-cpustats: kernel counters from `/proc/diskstats` and
//! `/proc/stat`.

use std::path::Path;

use nix::unistd::{sysconf, SysconfVar};
use qga_types::{GuestCpuStats, GuestDiskStats, GuestDiskStatsInfo, GuestLinuxCpuStats};

use super::error::errno_of;
use super::SysError;

/// `guest-get-diskstats` from `/proc/diskstats`.
pub fn disk_stats() -> Result<Vec<GuestDiskStatsInfo>, SysError> {
    disk_stats_from(Path::new("/proc/diskstats"))
}

/// `guest-get-diskstats`: `open("<path>"): <strerror>` if the file cannot be read.
pub fn disk_stats_from(path: &Path) -> Result<Vec<GuestDiskStatsInfo>, SysError> {
    let text = read_proc(path)?;
    Ok(parse_disk_stats(&text))
}

/// Parses `/proc/diskstats` like qemu-ga's `sscanf`: counting the leading fields that parse
/// (major, minor, name, then up to 17 numbers), lines with fewer than 7 are skipped; 7 fields
/// is the old partition format (read/write ios and sectors); 14+ add the full read/write
/// set, 18+ discards, 20 flushes. 8 to 13 fields give an entry with no statistics.
pub fn parse_disk_stats(text: &str) -> Vec<GuestDiskStatsInfo> {
    let mut disks = Vec::new();
    for line in text.lines() {
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let (Some(major), Some(minor), Some(name)) = (
            tokens.first().and_then(|t| t.parse::<u32>().ok()),
            tokens.get(1).and_then(|t| t.parse::<u32>().ok()),
            tokens.get(2),
        ) else {
            continue;
        };
        // Columns 4.. as numbers, up to the first that does not parse; u32 columns wrap
        // like C's `%u`.
        let values: Vec<u64> = tokens[3..]
            .iter()
            .take(17)
            .map_while(|t| t.parse::<u64>().ok())
            .collect();
        let fields = 3 + values.len();
        if fields < 7 {
            continue;
        }
        let v = |i: usize| values[i];
        let u32v = |i: usize| values[i] & 0xffff_ffff;
        let mut stats = no_disk_stats();
        if fields == 7 {
            stats.read_ios = Some(v(0));
            stats.read_sectors = Some(v(1));
            stats.write_ios = Some(v(2));
            stats.write_sectors = Some(v(3));
        }
        if fields >= 14 {
            stats.read_ios = Some(v(0));
            stats.read_merges = Some(v(1));
            stats.read_sectors = Some(v(2));
            stats.read_ticks = Some(v(3));
            stats.write_ios = Some(v(4));
            stats.write_merges = Some(v(5));
            stats.write_sectors = Some(v(6));
            stats.write_ticks = Some(u32v(7));
            stats.ios_pgr = Some(u32v(8));
            stats.total_ticks = Some(u32v(9));
            stats.weight_ticks = Some(u32v(10));
        }
        if fields >= 18 {
            stats.discard_ios = Some(v(11));
            stats.discard_merges = Some(v(12));
            stats.discard_sectors = Some(v(13));
            stats.discard_ticks = Some(u32v(14));
        }
        if fields >= 20 {
            stats.flush_ios = Some(v(15));
            stats.flush_ticks = Some(u32v(16));
        }
        disks.push(GuestDiskStatsInfo {
            name: (*name).to_owned(),
            major: u64::from(major),
            minor: u64::from(minor),
            stats,
        });
    }
    disks
}

/// `guest-get-cpustats` from `/proc/stat`.
pub fn cpu_stats() -> Result<Vec<GuestCpuStats>, SysError> {
    let ticks = sysconf(SysconfVar::CLK_TCK).ok().flatten().unwrap_or(100);
    cpu_stats_from(Path::new("/proc/stat"), ticks.max(1) as u64)
}

/// `guest-get-cpustats` with `ticks_per_second` (`sysconf(_SC_CLK_TCK)`); every entry is
/// the `linux` variant.
pub fn cpu_stats_from(path: &Path, ticks_per_second: u64) -> Result<Vec<GuestCpuStats>, SysError> {
    let text = read_proc(path)?;
    let cpus = parse_cpu_stats(&text, ticks_per_second);
    Ok(cpus.into_iter().map(GuestCpuStats::Linux).collect())
}

/// Parses the `cpuN` lines of `/proc/stat` (the aggregate `cpu` line and other lines are
/// skipped); tick counts become milliseconds. A `cpuN` line with fewer than 4 numbers ends
/// the parse, as in qemu-ga. Optional fields follow the column count.
pub fn parse_cpu_stats(text: &str, ticks_per_second: u64) -> Vec<GuestLinuxCpuStats> {
    let ms = |ticks: u64| ticks.wrapping_mul(1000) / ticks_per_second;
    let mut cpus = Vec::new();
    for line in text.lines() {
        let mut tokens = line.split_whitespace();
        let Some(name) = tokens.next() else {
            continue;
        };
        let Some(id) = name.strip_prefix("cpu").filter(|id| !id.is_empty()) else {
            continue;
        };
        let values: Vec<u64> = tokens.take(10).map_while(|t| t.parse().ok()).collect();
        if values.len() < 4 {
            break;
        }
        let get = |i: usize| values.get(i).copied().map(ms);
        cpus.push(GuestLinuxCpuStats {
            cpu: leading_int(id),
            user: ms(values[0]),
            nice: ms(values[1]),
            system: ms(values[2]),
            idle: ms(values[3]),
            iowait: get(4),
            irq: get(5),
            softirq: get(6),
            steal: get(7),
            guest: get(8),
            guestnice: get(9),
        });
    }
    cpus
}

/// Disk statistics with no field known yet (which are filled depends on the column count).
fn no_disk_stats() -> GuestDiskStats {
    GuestDiskStats {
        read_sectors: None,
        read_ios: None,
        read_merges: None,
        write_sectors: None,
        write_ios: None,
        write_merges: None,
        discard_sectors: None,
        discard_ios: None,
        discard_merges: None,
        flush_ios: None,
        read_ticks: None,
        write_ticks: None,
        discard_ticks: None,
        flush_ticks: None,
        ios_pgr: None,
        total_ticks: None,
        weight_ticks: None,
    }
}

/// `atoi`: optional sign and leading digits, 0 if none.
fn leading_int(text: &str) -> i64 {
    let end = text
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+'))))
        .map_or(text.len(), |(i, _)| i);
    text[..end].parse().unwrap_or(0)
}

fn read_proc(path: &Path) -> Result<String, SysError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
        Err(err) => Err(SysError::with_errno(
            format!("open(\"{}\")", path.display()),
            errno_of(&err),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DISKSTATS: &str = "   7       0 loop0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0
 254       0 vda 11 22 33 44 55 66 77 88 99 1010 1111 1212 1313 1414 1515 1616 1717
 254       1 vda1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15
   8       0 sda 5 6 7 8 9 10 11 12 13 14 15
   8       1 sda1 100 200 300 400
   8       2 sda2 1 2 3 4 5 6
 bogus
";

    #[test]
    fn disk_stats_by_column_count() {
        let disks = parse_disk_stats(DISKSTATS);
        let names: Vec<_> = disks.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["loop0", "vda", "vda1", "sda", "sda1", "sda2"]);
        let vda = &disks[1];
        assert_eq!((vda.major, vda.minor), (254, 0));
        assert_eq!(
            vda.stats,
            GuestDiskStats {
                read_ios: Some(11),
                read_merges: Some(22),
                read_sectors: Some(33),
                read_ticks: Some(44),
                write_ios: Some(55),
                write_merges: Some(66),
                write_sectors: Some(77),
                write_ticks: Some(88),
                ios_pgr: Some(99),
                total_ticks: Some(1010),
                weight_ticks: Some(1111),
                discard_ios: Some(1212),
                discard_merges: Some(1313),
                discard_sectors: Some(1414),
                discard_ticks: Some(1515),
                flush_ios: Some(1616),
                flush_ticks: Some(1717),
            }
        );
        // 18 fields: discards but no flushes.
        assert_eq!(disks[2].stats.discard_ticks, Some(15));
        assert_eq!(disks[2].stats.flush_ios, None);
        // 14 fields: no discards.
        assert_eq!(disks[3].stats.weight_ticks, Some(15));
        assert_eq!(disks[3].stats.discard_ios, None);
        // 7 fields: the old partition format.
        assert_eq!(
            disks[4].stats,
            GuestDiskStats {
                read_ios: Some(100),
                read_sectors: Some(200),
                write_ios: Some(300),
                write_sectors: Some(400),
                ..no_disk_stats()
            }
        );
        // 9 fields: listed without statistics.
        assert_eq!(disks[5].stats, no_disk_stats());
    }

    #[test]
    fn missing_files_are_errors() {
        let missing = Path::new("/nonexistent/diskstats");
        assert_eq!(
            disk_stats_from(missing).unwrap_err().to_string(),
            "open(\"/nonexistent/diskstats\"): No such file or directory"
        );
        assert_eq!(
            cpu_stats_from(missing, 100).unwrap_err().to_string(),
            "open(\"/nonexistent/diskstats\"): No such file or directory"
        );
    }

    const STAT: &str = "cpu  100 200 300 400 500 600 700 800 900 1000
cpu0 10 20 30 40 50 60 70 80 90 100
cpu1 1 2 3 4
cpu2 1 2 3 4 5 6 7 8 9
intr 1 2 3
ctxt 1234
cpu3 1 2 3
cpu4 1 2 3 4
";

    #[test]
    fn cpu_stats_per_cpu_line() {
        let cpus = parse_cpu_stats(STAT, 100);
        assert_eq!(cpus.len(), 3, "a short cpu line ends the parse");
        assert_eq!(
            cpus[0],
            GuestLinuxCpuStats {
                cpu: 0,
                user: 100,
                nice: 200,
                system: 300,
                idle: 400,
                iowait: Some(500),
                irq: Some(600),
                softirq: Some(700),
                steal: Some(800),
                guest: Some(900),
                guestnice: Some(1000),
            }
        );
        assert_eq!(
            cpus[1],
            GuestLinuxCpuStats {
                cpu: 1,
                user: 10,
                nice: 20,
                system: 30,
                idle: 40,
                iowait: None,
                irq: None,
                softirq: None,
                steal: None,
                guest: None,
                guestnice: None,
            }
        );
        assert_eq!(cpus[2].guest, Some(90));
        assert_eq!(cpus[2].guestnice, None);
        assert_eq!(parse_cpu_stats("cpu7 1 1 1 1\n", 1000)[0].user, 1);
    }

    #[test]
    fn real_proc_files_parse() {
        let cpus = cpu_stats().unwrap();
        let online = std::fs::read_to_string("/proc/stat")
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
            .count();
        assert_eq!(cpus.len(), online);
        let disks = disk_stats().unwrap();
        assert_eq!(
            disks.len(),
            std::fs::read_to_string("/proc/diskstats")
                .unwrap()
                .lines()
                .count()
        );
    }
}
