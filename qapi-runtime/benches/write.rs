//! Writing a 48 MiB `guest-file-read` reply: base64 streamed through the QEMU-format writer,
//! side by side with building the base64 text first and writing it with serde_json.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use qapi_runtime::{Base64Bytes, Reply};
use serde::ser::{Serialize, SerializeMap, Serializer};

struct Read<T>(T);

impl<T: Serialize> Serialize for Read<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("count", &(48u64 << 20))?;
        map.serialize_entry("buf-b64", &self.0)?;
        map.serialize_entry("eof", &false)?;
        map.end()
    }
}

fn bench(c: &mut Criterion) {
    let data: Vec<u8> = (0..48u32 << 20).map(|i| (i % 251) as u8).collect();
    let mut group = c.benchmark_group("guest-file-read 48 MiB");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(data.len() as u64));
    let streamed = Reply::ok(None, Read(Base64Bytes(data.clone())));
    group.bench_function("streamed (qapi-runtime writer)", |b| {
        b.iter(|| streamed.write_line(std::io::sink()))
    });
    group.bench_function("base64 String + serde_json", |b| {
        b.iter(|| {
            let text = qapi_runtime::base64::encode(&data);
            serde_json::to_writer(std::io::sink(), &Reply::ok(None, Read(text)))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
