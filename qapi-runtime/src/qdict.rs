//! The iteration orders of QEMU's dictionaries, which decide key order on the wire and which of
//! several bad keys QEMU reports first.
//!
//! - A QDict (QEMU's JSON object) is a 512-bucket hash table iterated bucket by bucket, the most
//!   recently inserted key first within a bucket: [`qdict_order`].
//! - The input visitor tracks unvisited members in a GLib `GHashTable` (open addressing, resized
//!   as it fills and empties): [`StrSet`] replays it, so the "first" unexpected member is the one
//!   QEMU names.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

/// Number of buckets of a QDict.
pub const QDICT_BUCKETS: u32 = 512;

/// QDict's key hash (the TDB hash), with 32-bit wraparound.
pub fn qdict_hash(key: &str) -> u32 {
    let len = stored_bytes(key).count();
    let mut value = 0x238F_13AFu32.wrapping_mul(len as u32);
    for (i, b) in stored_bytes(key).enumerate() {
        value = value.wrapping_add(u32::from(b) << ((i * 5) % 24));
    }
    1_103_515_243u32.wrapping_mul(value).wrapping_add(12345)
}

/// The bytes QEMU stores for `key`: U+0000 is kept as `C0 80` (modified UTF-8), as QEMU's
/// JSON parser decodes it, so C strings never hold a NUL.
fn stored_bytes(key: &str) -> impl Iterator<Item = u8> + '_ {
    key.bytes().flat_map(|b| match b {
        0 => [0xC0, 0x80].into_iter().take(2),
        _ => [b, 0].into_iter().take(1),
    })
}

/// The bucket a key lands in.
pub fn qdict_bucket(key: &str) -> u32 {
    qdict_hash(key) % QDICT_BUCKETS
}

/// Positions of `keys` (given in insertion order) in QDict iteration order: by bucket, and
/// within a bucket the most recently inserted first.
pub fn qdict_order<'a, I>(keys: I) -> Vec<usize>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut order: Vec<(u32, usize)> = keys
        .into_iter()
        .enumerate()
        .map(|(i, k)| (qdict_bucket(k), i))
        .collect();
    order.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    order.into_iter().map(|(_, i)| i).collect()
}

/// Serialises a JSON value as QEMU would after parsing it: object keys in QDict order
/// (insertion order = the order the value holds them in). Used where QEMU echoes input, such
/// as a request `id` or an `any` value.
#[derive(Debug, Clone, Copy)]
pub struct Ordered<'a>(pub &'a Value);

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(map) => {
                let entries: Vec<(&String, &Value)> = map.iter().collect();
                let mut out = serializer.serialize_map(Some(entries.len()))?;
                for i in qdict_order(entries.iter().map(|(k, _)| k.as_str())) {
                    let (key, value) = entries[i];
                    out.serialize_entry(key, &Ordered(value))?;
                }
                out.end()
            }
            Value::Array(items) => {
                let mut out = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    out.serialize_element(&Ordered(item))?;
                }
                out.end()
            }
            other => other.serialize(serializer),
        }
    }
}

/// GLib's `g_str_hash` (djb2 over signed chars).
fn g_str_hash(key: &str) -> u32 {
    stored_bytes(key).fold(5381u32, |h, b| {
        h.wrapping_mul(33).wrapping_add(b as i8 as i32 as u32)
    })
}

const MIN_SHIFT: u32 = 3;
const UNUSED: u32 = 0;
const TOMBSTONE: u32 = 1;

/// GLib's moduli per table size `1 << shift`.
const PRIME_MOD: [u32; 32] = [
    1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071,
    262139, 524287, 1048573, 2097143, 4194301, 8388593, 16777213, 33554393, 67108859, 134217689,
    268435399, 536870909, 1073741789, 2147483647,
];

/// A replay of a GLib (2.74) string hash set: same slots, same resizes, same iteration order.
#[derive(Debug, Clone)]
pub struct StrSet<'a> {
    keys: Vec<Option<&'a str>>,
    hashes: Vec<u32>,
    modulo: u32,
    mask: u32,
    nnodes: usize,
    noccupied: usize,
}

impl Default for StrSet<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> StrSet<'a> {
    pub fn new() -> Self {
        let size = 1usize << MIN_SHIFT;
        StrSet {
            keys: vec![None; size],
            hashes: vec![UNUSED; size],
            modulo: PRIME_MOD[MIN_SHIFT as usize],
            mask: (size - 1) as u32,
            nnodes: 0,
            noccupied: 0,
        }
    }

    fn hash(key: &str) -> u32 {
        match g_str_hash(key) {
            h if h < 2 => 2,
            h => h,
        }
    }

    fn index_of_hash(&self, hash: u32) -> usize {
        (hash.wrapping_mul(11) % self.modulo) as usize
    }

    /// The slot holding `key`, or the slot where it would go.
    fn lookup(&self, key: &str, hash: u32) -> usize {
        let mut index = self.index_of_hash(hash);
        let mut step = 0;
        let mut tombstone = None;
        while self.hashes[index] != UNUSED {
            if self.hashes[index] == hash && self.keys[index] == Some(key) {
                return index;
            }
            if self.hashes[index] == TOMBSTONE && tombstone.is_none() {
                tombstone = Some(index);
            }
            step += 1;
            index = (index + step) & self.mask as usize;
        }
        tombstone.unwrap_or(index)
    }

    pub fn insert(&mut self, key: &'a str) {
        let hash = Self::hash(key);
        let index = self.lookup(key, hash);
        let old = self.hashes[index];
        if old > TOMBSTONE {
            return;
        }
        self.hashes[index] = hash;
        self.keys[index] = Some(key);
        self.nnodes += 1;
        if old == UNUSED {
            self.noccupied += 1;
            self.maybe_resize();
        }
    }

    pub fn remove(&mut self, key: &str) -> bool {
        let hash = Self::hash(key);
        let index = self.lookup(key, hash);
        if self.hashes[index] <= TOMBSTONE {
            return false;
        }
        self.hashes[index] = TOMBSTONE;
        self.keys[index] = None;
        self.nnodes -= 1;
        self.maybe_resize();
        true
    }

    /// The keys in iteration order.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.keys.iter().filter_map(|k| *k)
    }

    fn maybe_resize(&mut self) {
        let size = self.hashes.len();
        if (size > self.nnodes * 4 && size > 1 << MIN_SHIFT)
            || size <= self.noccupied + self.noccupied / 16
        {
            self.resize();
        }
    }

    fn resize(&mut self) {
        let old_size = self.hashes.len();
        // GLib sizes the table for the live nodes times 1.333, truncated.
        let wanted = (self.nnodes as f64 * 1.333) as u64;
        let shift = (64 - wanted.leading_zeros()).max(MIN_SHIFT);
        let new_size = 1usize << shift;
        self.modulo = PRIME_MOD[shift as usize];
        self.mask = (new_size - 1) as u32;
        let span = old_size.max(new_size);
        self.hashes.resize(span, UNUSED);
        self.keys.resize(span, None);
        let mut placed = vec![false; span];
        for i in 0..old_size {
            let mut hash = self.hashes[i];
            if hash <= TOMBSTONE {
                self.hashes[i] = UNUSED;
                continue;
            }
            if placed[i] {
                continue;
            }
            self.hashes[i] = UNUSED;
            let mut key = self.keys[i].take();
            loop {
                let mut index = self.index_of_hash(hash);
                let mut step = 0;
                while placed[index] {
                    step += 1;
                    index = (index + step) & self.mask as usize;
                }
                placed[index] = true;
                let replaced = self.hashes[index];
                self.hashes[index] = hash;
                let evicted = std::mem::replace(&mut self.keys[index], key);
                if replaced <= TOMBSTONE {
                    break;
                }
                hash = replaced;
                key = evicted;
            }
        }
        self.hashes.truncate(new_size);
        self.keys.truncate(new_size);
        self.noccupied = self.nnodes;
    }
}

/// A list of JSON values serialised with [`Ordered`] objects (for `['any']` members).
#[derive(Debug, Clone, Copy)]
pub struct OrderedList<'a>(pub &'a [Value]);

impl Serialize for OrderedList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            out.serialize_element(&Ordered(item))?;
        }
        out.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_in_a_key_hashes_as_qemu_stores_it() {
        // QEMU keeps U+0000 as the two bytes C0 80 (modified UTF-8); qemu-ga 10.0.2 echoes
        // this id's keys in this order (and names `argumen\u0000ts` before `a`).
        let djb2 = [b'x', 0xC0, 0x80].iter().fold(5381u32, |h, &b| {
            h.wrapping_mul(33).wrapping_add(b as i8 as u32)
        });
        assert_eq!(g_str_hash("x\0"), djb2);
        let keys = ["a", "argumen\0ts", "b", "x\0", "\0"];
        let order: Vec<&str> = qdict_order(keys).into_iter().map(|i| keys[i]).collect();
        assert_eq!(order, ["argumen\0ts", "\0", "x\0", "a", "b"]);
    }
}
