//! Conversions from the system layer's results to the generated protocol types.

use qga_types as t;

use crate::sys::{blockdev, memory, net, stats, vcpu};

pub(crate) fn interface(i: net::NetworkInterface) -> t::GuestNetworkInterface {
    t::GuestNetworkInterface {
        name: i.name,
        hardware_address: i.hardware_address,
        ip_addresses: i.ip_addresses.map(|list| {
            list.into_iter()
                .map(|a| t::GuestIpAddress {
                    ip_address: a.ip_address,
                    ip_address_type: match a.ip_address_type {
                        net::IpAddressType::Ipv4 => t::GuestIpAddressType::Ipv4,
                        net::IpAddressType::Ipv6 => t::GuestIpAddressType::Ipv6,
                    },
                    prefix: a.prefix,
                })
                .collect()
        }),
        statistics: i.statistics.map(|s| t::GuestNetworkInterfaceStat {
            rx_bytes: s.rx_bytes,
            rx_packets: s.rx_packets,
            rx_errs: s.rx_errs,
            rx_dropped: s.rx_dropped,
            tx_bytes: s.tx_bytes,
            tx_packets: s.tx_packets,
            tx_errs: s.tx_errs,
            tx_dropped: s.tx_dropped,
        }),
    }
}

pub(crate) fn route(r: net::NetworkRoute) -> t::GuestNetworkRoute {
    t::GuestNetworkRoute {
        iface: r.iface,
        destination: r.destination,
        metric: r.metric,
        gateway: r.gateway,
        mask: r.mask,
        irtt: r.irtt,
        flags: r.flags,
        refcnt: r.refcnt,
        r#use: r.r#use,
        window: r.window,
        mtu: r.mtu,
        desprefixlen: r.desprefixlen,
        source: r.source,
        srcprefixlen: r.srcprefixlen,
        nexthop: r.nexthop,
        version: r.version,
    }
}

pub(crate) fn vcpu_out(v: vcpu::LogicalProcessor) -> t::GuestLogicalProcessor {
    t::GuestLogicalProcessor {
        logical_id: v.logical_id,
        online: v.online,
        can_offline: v.can_offline,
    }
}

pub(crate) fn vcpu_in(v: t::GuestLogicalProcessor) -> vcpu::LogicalProcessor {
    vcpu::LogicalProcessor {
        logical_id: v.logical_id,
        online: v.online,
        can_offline: v.can_offline,
    }
}

pub(crate) fn memory_block_out(b: memory::MemoryBlock) -> t::GuestMemoryBlock {
    t::GuestMemoryBlock {
        phys_index: b.phys_index,
        online: b.online,
        can_offline: b.can_offline,
    }
}

pub(crate) fn memory_block_in(b: t::GuestMemoryBlock) -> memory::MemoryBlock {
    memory::MemoryBlock {
        phys_index: b.phys_index,
        online: b.online,
        can_offline: b.can_offline,
    }
}

pub(crate) fn memory_response(r: memory::MemoryBlockResponse) -> t::GuestMemoryBlockResponse {
    use memory::MemoryBlockResponseType as S;
    use t::GuestMemoryBlockResponseType as T;
    t::GuestMemoryBlockResponse {
        phys_index: r.phys_index,
        response: match r.response {
            S::Success => T::Success,
            S::NotFound => T::NotFound,
            S::OperationNotSupported => T::OperationNotSupported,
            S::OperationFailed => T::OperationFailed,
        },
        error_code: r.error_code,
    }
}

pub(crate) fn disk_stats(d: stats::DiskStatsInfo) -> t::GuestDiskStatsInfo {
    let s = d.stats;
    t::GuestDiskStatsInfo {
        name: d.name,
        major: d.major,
        minor: d.minor,
        stats: t::GuestDiskStats {
            read_sectors: s.read_sectors,
            read_ios: s.read_ios,
            read_merges: s.read_merges,
            write_sectors: s.write_sectors,
            write_ios: s.write_ios,
            write_merges: s.write_merges,
            discard_sectors: s.discard_sectors,
            discard_ios: s.discard_ios,
            discard_merges: s.discard_merges,
            flush_ios: s.flush_ios,
            read_ticks: s.read_ticks,
            write_ticks: s.write_ticks,
            discard_ticks: s.discard_ticks,
            flush_ticks: s.flush_ticks,
            ios_pgr: s.ios_pgr,
            total_ticks: s.total_ticks,
            weight_ticks: s.weight_ticks,
        },
    }
}

pub(crate) fn cpu_stats(c: stats::CpuStats) -> t::GuestCpuStats {
    t::GuestCpuStats::Linux(t::GuestLinuxCpuStats {
        cpu: c.cpu,
        user: c.user,
        nice: c.nice,
        system: c.system,
        idle: c.idle,
        iowait: c.iowait,
        irq: c.irq,
        softirq: c.softirq,
        steal: c.steal,
        guest: c.guest,
        guestnice: c.guestnice,
    })
}

fn bus_type(b: blockdev::DiskBusType) -> t::GuestDiskBusType {
    use blockdev::DiskBusType as S;
    use t::GuestDiskBusType as T;
    match b {
        S::Ide => T::Ide,
        S::Fdc => T::Fdc,
        S::Scsi => T::Scsi,
        S::Virtio => T::Virtio,
        S::Xen => T::Xen,
        S::Usb => T::Usb,
        S::Uml => T::Uml,
        S::Sata => T::Sata,
        S::Sd => T::Sd,
        S::Unknown => T::Unknown,
        S::Ieee1394 => T::Ieee1394,
        S::Ssa => T::Ssa,
        S::Fibre => T::Fibre,
        S::Raid => T::Raid,
        S::Iscsi => T::Iscsi,
        S::Sas => T::Sas,
        S::Mmc => T::Mmc,
        S::Virtual => T::Virtual,
        S::FileBackedVirtual => T::FileBackedVirtual,
        S::Nvme => T::Nvme,
    }
}

fn disk_address(a: blockdev::DiskAddress) -> t::GuestDiskAddress {
    let p = a.pci_controller;
    t::GuestDiskAddress {
        pci_controller: t::GuestPciAddress {
            domain: p.domain,
            bus: p.bus,
            slot: p.slot,
            function: p.function,
        },
        bus_type: bus_type(a.bus_type),
        bus: a.bus,
        target: a.target,
        unit: a.unit,
        serial: a.serial,
        dev: a.dev,
        ccw_address: a.ccw_address.map(|c| t::GuestCcwAddress {
            cssid: c.cssid,
            ssid: c.ssid,
            subchno: c.subchno,
            devno: c.devno,
        }),
    }
}

pub(crate) fn filesystem(f: blockdev::FilesystemInfo) -> t::GuestFilesystemInfo {
    t::GuestFilesystemInfo {
        name: f.name,
        mountpoint: f.mountpoint,
        r#type: f.fs_type,
        used_bytes: f.used_bytes,
        total_bytes: f.total_bytes,
        total_bytes_privileged: f.total_bytes_privileged,
        disk: f.disk.into_iter().map(disk_address).collect(),
    }
}

pub(crate) fn disk(d: blockdev::DiskInfo) -> t::GuestDiskInfo {
    t::GuestDiskInfo {
        name: d.name,
        partition: d.partition,
        dependencies: d.dependencies,
        address: d.address.map(disk_address),
        alias: d.alias,
        smart: d.smart.map(|s| {
            t::GuestDiskSmart::Nvme(t::GuestNvMeSmart {
                critical_warning: s.critical_warning,
                temperature: s.temperature,
                available_spare: s.available_spare,
                available_spare_threshold: s.available_spare_threshold,
                percentage_used: s.percentage_used,
                data_units_read_lo: s.data_units_read_lo,
                data_units_read_hi: s.data_units_read_hi,
                data_units_written_lo: s.data_units_written_lo,
                data_units_written_hi: s.data_units_written_hi,
                host_read_commands_lo: s.host_read_commands_lo,
                host_read_commands_hi: s.host_read_commands_hi,
                host_write_commands_lo: s.host_write_commands_lo,
                host_write_commands_hi: s.host_write_commands_hi,
                controller_busy_time_lo: s.controller_busy_time_lo,
                controller_busy_time_hi: s.controller_busy_time_hi,
                power_cycles_lo: s.power_cycles_lo,
                power_cycles_hi: s.power_cycles_hi,
                power_on_hours_lo: s.power_on_hours_lo,
                power_on_hours_hi: s.power_on_hours_hi,
                unsafe_shutdowns_lo: s.unsafe_shutdowns_lo,
                unsafe_shutdowns_hi: s.unsafe_shutdowns_hi,
                media_errors_lo: s.media_errors_lo,
                media_errors_hi: s.media_errors_hi,
                number_of_error_log_entries_lo: s.number_of_error_log_entries_lo,
                number_of_error_log_entries_hi: s.number_of_error_log_entries_hi,
            })
        }),
    }
}
