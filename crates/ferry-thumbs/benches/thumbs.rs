//! Thumbnails per second per core for a 12-megapixel JPEG (4000 × 3000,
//! photo-like content), one thread, against a baseline measured in the same
//! run on the same bytes: decoding the JPEG alone with the `image` crate,
//! which is the floor any thumbnailer built on it pays.
//!
//! One "thumbnail run" is one call of `thumbnails`: both sizes, from the
//! JPEG's bytes to the two encoded thumbnails. The calls are made one at a
//! time from one thread; the process's CPU time over wall time is printed
//! too, since the scaled JPEG decoder starts helper threads (1.00 means
//! they added nothing: the rate is per core).
//!
//! Run with `cargo bench -p ferry-thumbs`; `cargo xtask bench` relays its
//! `FERRY_BENCH` lines.

#![allow(clippy::unwrap_used)]

use ferry_thumbs::{Limits, thumbnails};
use image::{ImageFormat, Rgb, RgbImage};
use std::hint::black_box;
use std::time::{Duration, Instant};

const WIDTH: u32 = 4000;
const HEIGHT: u32 = 3000;
const RUNS: usize = 12;

/// A small deterministic generator, so every run encodes the same photo.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

/// Something with a photo's texture for the encoder: smooth gradients,
/// waves of several frequencies (edges and detail at every scale) and
/// sensor-like noise, so the JPEG's size and decode cost are a photo's,
/// not a flat colour's.
fn photo() -> RgbImage {
    let mut rng = Lcg(12);
    RgbImage::from_fn(WIDTH, HEIGHT, |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        let wave = (fx / 37.0).sin() * (fy / 23.0).cos() * 40.0
            + ((fx + fy) / 7.0).sin() * 12.0
            + ((fx * fx + fy * fy).sqrt() / 90.0).sin() * 30.0;
        let noise = (rng.next() % 24) as f32 - 12.0;
        let channel = |base: f32| (base + wave + noise).clamp(0.0, 255.0) as u8;
        Rgb([
            channel(fx / WIDTH as f32 * 180.0 + 40.0),
            channel(fy / HEIGHT as f32 * 160.0 + 50.0),
            channel(120.0 - fx / WIDTH as f32 * 60.0),
        ])
    })
}

/// This process's CPU time so far (user + system, every thread's), from
/// /proc/self/stat in clock ticks (100 per second on Linux).
fn cpu_ticks() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The median of `RUNS` timings of `work`, after one untimed warm-up.
fn median(mut work: impl FnMut()) -> Duration {
    work();
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            work();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}

fn main() {
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&photo())
        .unwrap();
    let limits = Limits::default();
    let made = thumbnails(&jpeg, &limits).unwrap();
    println!(
        "12-megapixel JPEG: {WIDTH} × {HEIGHT}, {:.1} MB; thumbnails {}",
        jpeg.len() as f64 / 1e6,
        made.iter()
            .map(|t| format!("{}×{} {} bytes", t.width, t.height, t.bytes.len()))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let decode = median(|| {
        let image = image::load_from_memory_with_format(black_box(&jpeg), ImageFormat::Jpeg);
        black_box(image.unwrap());
    });
    let before = cpu_ticks();
    let start = Instant::now();
    let thumbs = median(|| {
        black_box(thumbnails(black_box(&jpeg), &limits).unwrap());
    });
    let wall = start.elapsed();
    // jpeg-decoder hands each colour component to a thread of its own;
    // this says how much of a second core they took (1.00 = one core).
    let cpu_per_wall = match (before, cpu_ticks()) {
        (Some(before), Some(after)) => (after - before) as f64 / 100.0 / wall.as_secs_f64(),
        _ => f64::NAN,
    };
    let decode_per_s = 1.0 / decode.as_secs_f64();
    let thumbs_per_s = 1.0 / thumbs.as_secs_f64();
    println!(
        "FERRY_BENCH baseline_decode_12mp_jpeg_ms={:.1} baseline_decodes_per_s={decode_per_s:.2}",
        decode.as_secs_f64() * 1e3
    );
    println!(
        "FERRY_BENCH thumbs_12mp_jpeg_ms={:.1} thumbs_12mp_jpeg_per_s_per_core={thumbs_per_s:.2} ratio={:.2}x the decode alone",
        thumbs.as_secs_f64() * 1e3,
        thumbs.as_secs_f64() / decode.as_secs_f64()
    );
    println!(
        "FERRY_BENCH thumbs_cpu_per_wall={cpu_per_wall:.2} (every thread's CPU time over wall time)"
    );
}
