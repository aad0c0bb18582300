//! Just enough of ELF64 (little-endian) to read a module's `.modinfo` and a kernel's notes.

use anyhow::{bail, Context, Result};

/// A parsed view of an ELF64 little-endian file held in memory.
pub struct Elf<'a> {
    data: &'a [u8],
}

/// One ELF note: owner name, type and descriptor bytes.
#[derive(Debug)]
pub struct Note<'a> {
    pub name: &'a [u8],
    pub kind: u32,
    pub desc: &'a [u8],
}

const PT_NOTE: u32 = 4;
const SHT_NOTE: u32 = 7;

impl<'a> Elf<'a> {
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        if data.len() < 64 || &data[..4] != b"\x7fELF" {
            bail!("not an ELF file");
        }
        if data[4] != 2 || data[5] != 1 {
            bail!("not a 64-bit little-endian ELF file");
        }
        Ok(Elf { data })
    }

    fn u16_at(&self, at: usize) -> Result<u16> {
        let bytes = self.data.get(at..at + 2).context("ELF file truncated")?;
        Ok(u16::from_le_bytes([bytes[0], bytes[1]]))
    }

    fn u32_at(&self, at: usize) -> Result<u32> {
        let bytes = self.data.get(at..at + 4).context("ELF file truncated")?;
        Ok(u32::from_le_bytes(bytes.try_into()?))
    }

    fn u64_at(&self, at: usize) -> Result<usize> {
        let bytes = self.data.get(at..at + 8).context("ELF file truncated")?;
        usize::try_from(u64::from_le_bytes(bytes.try_into()?)).context("ELF offset too large")
    }

    fn slice(&self, offset: usize, size: usize) -> Result<&'a [u8]> {
        offset
            .checked_add(size)
            .and_then(|end| self.data.get(offset..end))
            .context("ELF range outside the file")
    }

    /// Section headers as (name offset, type, file offset, size).
    fn sections(&self) -> Result<Vec<(u32, u32, usize, usize)>> {
        let offset = self.u64_at(0x28)?;
        let entry_size = usize::from(self.u16_at(0x3a)?);
        let count = usize::from(self.u16_at(0x3c)?);
        (0..count)
            .map(|i| {
                let at = offset + i * entry_size;
                Ok((
                    self.u32_at(at)?,
                    self.u32_at(at + 4)?,
                    self.u64_at(at + 0x18)?,
                    self.u64_at(at + 0x20)?,
                ))
            })
            .collect()
    }

    /// The contents of the section called `name`, if there is one.
    pub fn section(&self, name: &str) -> Result<Option<&'a [u8]>> {
        let sections = self.sections()?;
        let names_index = usize::from(self.u16_at(0x3e)?);
        let Some(&(_, _, names_offset, names_size)) = sections.get(names_index) else {
            return Ok(None);
        };
        let names = self.slice(names_offset, names_size)?;
        for &(name_at, _, offset, size) in &sections {
            let rest = names.get(name_at as usize..).unwrap_or_default();
            let this = rest.split(|&b| b == 0).next().unwrap_or_default();
            if this == name.as_bytes() {
                return self.slice(offset, size).map(Some);
            }
        }
        Ok(None)
    }

    /// Fails unless every program segment lies inside the file (catches a truncated kernel).
    pub fn check_segments(&self) -> Result<()> {
        let ph_offset = self.u64_at(0x20)?;
        let ph_size = usize::from(self.u16_at(0x36)?);
        for i in 0..usize::from(self.u16_at(0x38)?) {
            let at = ph_offset + i * ph_size;
            self.slice(self.u64_at(at + 8)?, self.u64_at(at + 0x20)?)
                .with_context(|| format!("program segment {i}"))?;
        }
        Ok(())
    }

    /// All notes, from PT_NOTE segments or, if there are none, SHT_NOTE sections.
    pub fn notes(&self) -> Result<Vec<Note<'a>>> {
        let mut areas = Vec::new();
        let ph_offset = self.u64_at(0x20)?;
        let ph_size = usize::from(self.u16_at(0x36)?);
        for i in 0..usize::from(self.u16_at(0x38)?) {
            let at = ph_offset + i * ph_size;
            if self.u32_at(at)? == PT_NOTE {
                areas.push(self.slice(self.u64_at(at + 8)?, self.u64_at(at + 0x20)?)?);
            }
        }
        if areas.is_empty() {
            for (_, kind, offset, size) in self.sections()? {
                if kind == SHT_NOTE {
                    areas.push(self.slice(offset, size)?);
                }
            }
        }
        let mut notes = Vec::new();
        for area in areas {
            parse_notes(area, &mut notes)?;
        }
        Ok(notes)
    }
}

fn parse_notes<'a>(mut area: &'a [u8], notes: &mut Vec<Note<'a>>) -> Result<()> {
    let align4 = |n: usize| (n + 3) & !3;
    while area.len() >= 12 {
        let word = |i: usize| u32::from_le_bytes([area[i], area[i + 1], area[i + 2], area[i + 3]]);
        let (name_size, desc_size, kind) = (word(0) as usize, word(4) as usize, word(8));
        let desc_at = 12 + align4(name_size);
        let end = desc_at + align4(desc_size);
        let (Some(name), Some(desc)) = (
            area.get(12..12 + name_size),
            area.get(desc_at..desc_at + desc_size),
        ) else {
            bail!("ELF note runs past its segment");
        };
        let name = name.strip_suffix(b"\0").unwrap_or(name);
        notes.push(Note { name, kind, desc });
        area = area.get(end..).unwrap_or_default();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_non_elf() {
        assert!(
            Elf::parse(b"MZ not an elf file at all, padding padding padding padding!!").is_err()
        );
    }

    #[test]
    fn parses_notes_with_padding() {
        let mut area = Vec::new();
        for (name, kind, desc) in [(&b"Xen\0"[..], 18u32, &[1u8, 2, 3][..]), (b"GNU\0", 3, b"")] {
            area.extend((name.len() as u32).to_le_bytes());
            area.extend((desc.len() as u32).to_le_bytes());
            area.extend(kind.to_le_bytes());
            area.extend(name);
            area.resize(area.len().next_multiple_of(4), 0);
            area.extend(desc);
            area.resize(area.len().next_multiple_of(4), 0);
        }
        let mut notes = Vec::new();
        parse_notes(&area, &mut notes).unwrap();
        assert_eq!(notes.len(), 2);
        assert_eq!(
            (notes[0].name, notes[0].kind, notes[0].desc),
            (&b"Xen"[..], 18, &[1, 2, 3][..])
        );
        assert_eq!((notes[1].name, notes[1].kind), (&b"GNU"[..], 3));
    }
}
