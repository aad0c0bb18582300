//! A tiny `sscanf` for the sysfs paths qemu-ga parses with `sscanf`.

use qga_types::GuestPciAddress;

/// A tiny `sscanf` for sysfs paths: hex/decimal numbers and literal characters.
pub(super) struct Scan<'a> {
    text: &'a str,
    pub(super) pos: usize,
}

impl<'a> Scan<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Scan { text, pos: 0 }
    }

    pub(super) fn number(&mut self, radix: u32) -> Option<i64> {
        let rest = &self.text[self.pos..];
        let len = rest
            .find(|c: char| !c.is_digit(radix))
            .unwrap_or(rest.len());
        let value = u32::from_str_radix(&rest[..len], radix).ok()?;
        self.pos += len;
        Some(i64::from(value))
    }

    pub(super) fn hex(&mut self) -> Option<i64> {
        self.number(16)
    }

    pub(super) fn dec(&mut self) -> Option<i64> {
        self.number(10)
    }

    pub(super) fn lit(&mut self, c: char) -> Option<()> {
        self.text[self.pos..]
            .starts_with(c)
            .then(|| self.pos += c.len_utf8())
    }

    /// `%x:%x:%x.%x` as a PCI address.
    pub(super) fn pci(&mut self) -> Option<GuestPciAddress> {
        let domain = self.hex()?;
        self.lit(':')?;
        let bus = self.hex()?;
        self.lit(':')?;
        let slot = self.hex()?;
        self.lit('.')?;
        let function = self.hex()?;
        Some(GuestPciAddress {
            domain,
            bus,
            slot,
            function,
        })
    }

    /// `%*u:%*u:%*u/%*u:%u:%u:%u` after `/target`: (channel, target, lun).
    pub(super) fn target(&mut self) -> Option<[i64; 3]> {
        self.dec()?;
        self.lit(':')?;
        self.dec()?;
        self.lit(':')?;
        self.dec()?;
        self.lit('/')?;
        self.dec()?;
        self.lit(':')?;
        let a = self.dec()?;
        self.lit(':')?;
        let b = self.dec()?;
        self.lit(':')?;
        let c = self.dec()?;
        Some([a, b, c])
    }
}

pub(super) fn after<'a>(text: &'a str, needle: &str) -> Option<&'a str> {
    text.find(needle).map(|i| &text[i + needle.len()..])
}
