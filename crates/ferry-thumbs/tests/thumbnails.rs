//! `thumbnails` against real images of every format, made here with the
//! `image` crate's encoders (and by hand where an encoder won't lie: EXIF
//! orientations, a decompression bomb), and against hostile bytes:
//! truncations, byte flips and noise, none of which may panic.

#![allow(clippy::unwrap_used)]

use ferry_thumbs::{Failure, Limits, Size, Thumbnail, is_thumbnailable, thumbnails};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use std::io::Cursor;

/// A small deterministic generator, so every run feeds the same bytes.
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

/// Photo-like content: gradients with a little noise, not a flat colour.
fn photo(width: u32, height: u32) -> RgbImage {
    let mut rng = Lcg(7);
    RgbImage::from_fn(width, height, |x, y| {
        let noise = (rng.next() % 16) as u32;
        Rgb([
            ((x * 255 / width.max(1)) + noise).min(255) as u8,
            ((y * 255 / height.max(1)) + noise).min(255) as u8,
            (((x + y) * 127 / (width + height).max(1)) + noise).min(255) as u8,
        ])
    })
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, format).unwrap();
    bytes.into_inner()
}

fn jpeg(image: &RgbImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90)
        .encode_image(image)
        .unwrap();
    bytes
}

/// Decodes a thumbnail as a browser would and checks it says what it is.
fn decoded(thumbnail: &Thumbnail) -> DynamicImage {
    let image = image::load_from_memory(&thumbnail.bytes).unwrap();
    assert_eq!(
        (image.width(), image.height()),
        (thumbnail.width, thumbnail.height),
        "{thumbnail:?}"
    );
    let format = image::guess_format(&thumbnail.bytes).unwrap();
    let expected = match thumbnail.content_type {
        "image/jpeg" => ImageFormat::Jpeg,
        "image/png" => ImageFormat::Png,
        other => panic!("unexpected content type {other}"),
    };
    assert_eq!(format, expected);
    image
}

fn sizes(thumbnails: &[Thumbnail]) -> Vec<(Size, u32, u32)> {
    thumbnails
        .iter()
        .map(|t| (t.size, t.width, t.height))
        .collect()
}

#[test]
fn every_format_gives_a_small_and_a_medium_thumbnail() {
    let image = DynamicImage::ImageRgb8(photo(800, 600));
    for format in [
        ImageFormat::Jpeg,
        ImageFormat::Png,
        ImageFormat::Gif,
        ImageFormat::WebP,
        ImageFormat::Bmp,
        ImageFormat::Tiff,
    ] {
        let bytes = encode(&image, format);
        let made = thumbnails(&bytes, &Limits::default())
            .unwrap_or_else(|e| panic!("{format:?}: {e} ({:?})", e.detail()));
        assert_eq!(
            sizes(&made),
            [(Size::Small, 64, 48), (Size::Medium, 320, 240)],
            "{format:?}"
        );
        for thumbnail in &made {
            assert_eq!(thumbnail.content_type, "image/jpeg", "{format:?}");
            let pixels = decoded(thumbnail).to_rgb8();
            // The gradient survives: red grows left to right.
            let (w, h) = (pixels.width(), pixels.height());
            let left = pixels.get_pixel(1, h / 2)[0];
            let right = pixels.get_pixel(w - 2, h / 2)[0];
            assert!(left + 100 < right, "{format:?}: {left} → {right}");
        }
    }
}

#[test]
fn a_portrait_image_keeps_its_aspect() {
    let bytes = encode(&DynamicImage::ImageRgb8(photo(300, 1000)), ImageFormat::Png);
    let made = thumbnails(&bytes, &Limits::default()).unwrap();
    assert_eq!(
        sizes(&made),
        [(Size::Small, 19, 64), (Size::Medium, 96, 320)]
    );
}

#[test]
fn a_small_image_is_never_upscaled() {
    let bytes = encode(&DynamicImage::ImageRgb8(photo(40, 30)), ImageFormat::Png);
    let made = thumbnails(&bytes, &Limits::default()).unwrap();
    assert_eq!(
        sizes(&made),
        [(Size::Small, 40, 30), (Size::Medium, 40, 30)]
    );
    // Between the two sizes: the medium one keeps it, the small one shrinks.
    let bytes = encode(&DynamicImage::ImageRgb8(photo(200, 100)), ImageFormat::Png);
    let made = thumbnails(&bytes, &Limits::default()).unwrap();
    assert_eq!(
        sizes(&made),
        [(Size::Small, 64, 32), (Size::Medium, 200, 100)]
    );
}

#[test]
fn transparency_gives_a_png_and_an_opaque_alpha_channel_a_jpeg() {
    let transparent = RgbaImage::from_fn(400, 400, |x, _| {
        Rgba([200, 30, 30, if x < 200 { 0 } else { 255 }])
    });
    let bytes = encode(&DynamicImage::ImageRgba8(transparent), ImageFormat::Png);
    let made = thumbnails(&bytes, &Limits::default()).unwrap();
    for thumbnail in &made {
        assert_eq!(thumbnail.content_type, "image/png");
        let pixels = decoded(thumbnail).to_rgba8();
        assert_eq!(pixels.get_pixel(0, 0)[3], 0, "left half stays clear");
        assert_eq!(pixels.get_pixel(thumbnail.width - 1, 0)[3], 255);
    }
    let opaque = RgbaImage::from_pixel(400, 400, Rgba([200, 30, 30, 255]));
    let bytes = encode(&DynamicImage::ImageRgba8(opaque), ImageFormat::Png);
    let made = thumbnails(&bytes, &Limits::default()).unwrap();
    assert!(made.iter().all(|t| t.content_type == "image/jpeg"));
}

#[test]
fn grayscale_and_sixteen_bit_images_are_read() {
    let gray = DynamicImage::ImageLuma8(image::GrayImage::from_fn(500, 250, |x, _| {
        image::Luma([(x / 2) as u8])
    }));
    let made = thumbnails(&encode(&gray, ImageFormat::Png), &Limits::default()).unwrap();
    assert_eq!(
        sizes(&made),
        [(Size::Small, 64, 32), (Size::Medium, 320, 160)]
    );
    assert_eq!(made[1].content_type, "image/jpeg");
    let deep = DynamicImage::ImageRgb16(DynamicImage::ImageRgb8(photo(500, 250)).to_rgb16());
    let made = thumbnails(&encode(&deep, ImageFormat::Png), &Limits::default()).unwrap();
    assert_eq!(decoded(&made[1]).width(), 320);
}

/// An APP1 segment holding an EXIF block whose only entry is the
/// orientation (tag 0x0112, SHORT, count 1), big-endian.
fn exif_app1(orientation: u16) -> Vec<u8> {
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"MM\0*");
    tiff.extend_from_slice(&8u32.to_be_bytes()); // the first IFD's offset
    tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
    tiff.extend_from_slice(&0x0112u16.to_be_bytes());
    tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    tiff.extend_from_slice(&1u32.to_be_bytes());
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]); // the value field's padding
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend_from_slice(&tiff);
    let mut segment = vec![0xFF, 0xE1];
    segment.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
    segment.extend_from_slice(&payload);
    segment
}

/// A JPEG of `image` with an EXIF orientation, the APP1 segment right
/// after the start-of-image marker.
fn jpeg_with_orientation(image: &RgbImage, orientation: u16) -> Vec<u8> {
    let plain = jpeg(image);
    assert_eq!(&plain[..2], [0xFF, 0xD8]);
    let mut bytes = plain[..2].to_vec();
    bytes.extend_from_slice(&exif_app1(orientation));
    bytes.extend_from_slice(&plain[2..]);
    bytes
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Corner {
    TopLeft,
    TopRight,
    BottomRight,
    BottomLeft,
}

#[test]
fn exif_orientation_turns_the_thumbnail_upright() {
    // A 400 × 200 blue image whose stored top-left corner is red. Where
    // that corner lands, per the EXIF specification: the stored first row
    // and column are shown at these sides.
    let stored = RgbImage::from_fn(400, 200, |x, y| {
        if x < 80 && y < 80 {
            Rgb([230, 20, 20])
        } else {
            Rgb([20, 20, 230])
        }
    });
    let expected = [
        (1, Corner::TopLeft),
        (2, Corner::TopRight),
        (3, Corner::BottomRight),
        (4, Corner::BottomLeft),
        (5, Corner::TopLeft),
        (6, Corner::TopRight),
        (7, Corner::BottomRight),
        (8, Corner::BottomLeft),
    ];
    for (orientation, corner) in expected {
        let bytes = jpeg_with_orientation(&stored, orientation);
        let made = thumbnails(&bytes, &Limits::default()).unwrap();
        let swapped = orientation >= 5;
        let want = if swapped {
            [(Size::Small, 32, 64), (Size::Medium, 160, 320)]
        } else {
            [(Size::Small, 64, 32), (Size::Medium, 320, 160)]
        };
        assert_eq!(sizes(&made), want, "orientation {orientation}");
        let medium = decoded(&made[1]).to_rgb8();
        let (w, h) = (medium.width(), medium.height());
        let at = |c: Corner| {
            let (x, y) = match c {
                Corner::TopLeft => (10, 10),
                Corner::TopRight => (w - 11, 10),
                Corner::BottomRight => (w - 11, h - 11),
                Corner::BottomLeft => (10, h - 11),
            };
            let p = medium.get_pixel(x, y);
            p[0] > 150 && p[2] < 100
        };
        for c in [
            Corner::TopLeft,
            Corner::TopRight,
            Corner::BottomRight,
            Corner::BottomLeft,
        ] {
            assert_eq!(at(c), c == corner, "orientation {orientation}, {c:?}");
        }
    }
}

/// The mean absolute difference of two same-sized images' samples.
fn difference(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let total: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    total as f64 / a.as_raw().len() as f64
}

#[test]
fn a_large_jpeg_decoded_at_reduced_scale_matches_the_full_decode() {
    // 1,600 × 1,200 is decoded at 1/4 scale (400 × 300) before the resize;
    // the same pixels as a PNG go through the full decode.
    let image = photo(1600, 1200);
    let from_jpeg = thumbnails(&jpeg(&image), &Limits::default()).unwrap();
    let png = encode(&DynamicImage::ImageRgb8(image), ImageFormat::Png);
    let from_png = thumbnails(&png, &Limits::default()).unwrap();
    assert_eq!(sizes(&from_jpeg), sizes(&from_png));
    for (scaled, full) in from_jpeg.iter().zip(&from_png) {
        let gap = difference(&decoded(scaled).to_rgb8(), &decoded(full).to_rgb8());
        assert!(gap < 4.0, "{:?}: mean difference {gap}", scaled.size);
    }
    // And it is turned upright like any other: orientation 6 on a large
    // photo whose stored top-left corner is red.
    let stored = RgbImage::from_fn(1600, 800, |x, y| {
        if x < 300 && y < 300 {
            Rgb([230, 20, 20])
        } else {
            Rgb([20, 20, 230])
        }
    });
    let made = thumbnails(&jpeg_with_orientation(&stored, 6), &Limits::default()).unwrap();
    assert_eq!(
        sizes(&made),
        [(Size::Small, 32, 64), (Size::Medium, 160, 320)]
    );
    let medium = decoded(&made[1]).to_rgb8();
    let top_right = medium.get_pixel(150, 10);
    let top_left = medium.get_pixel(10, 10);
    assert!(top_right[0] > 150 && top_right[2] < 100, "{top_right:?}");
    assert!(top_left[2] > 150, "{top_left:?}");
}

#[test]
fn a_gif_gives_its_first_frame() {
    use image::codecs::gif::GifEncoder;
    use image::{Delay, Frame};
    let red = RgbaImage::from_pixel(100, 80, Rgba([220, 0, 0, 255]));
    let green = RgbaImage::from_pixel(100, 80, Rgba([0, 220, 0, 255]));
    let mut bytes = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut bytes);
        let delay = Delay::from_numer_denom_ms(100, 1);
        encoder
            .encode_frames([
                Frame::from_parts(red, 0, 0, delay),
                Frame::from_parts(green, 0, 0, delay),
            ])
            .unwrap();
    }
    let made = thumbnails(&bytes, &Limits::default()).unwrap();
    assert_eq!(
        sizes(&made),
        [(Size::Small, 64, 51), (Size::Medium, 100, 80)]
    );
    for thumbnail in &made {
        let pixel = *decoded(thumbnail).to_rgb8().get_pixel(20, 20);
        assert!(pixel[0] > 180 && pixel[1] < 60, "{pixel:?}");
    }
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut chunk = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    chunk.extend_from_slice(&body);
    chunk.extend_from_slice(&crc32(&body).to_be_bytes());
    chunk
}

/// A PNG whose header says `width` × `height` RGB pixels, with valid CRCs
/// and a few bytes of zlib data: what a decompression bomb looks like
/// before anyone decodes it.
fn bomb(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = width.to_be_bytes().to_vec();
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, no interlace
    bytes.extend_from_slice(&png_chunk(b"IHDR", &header));
    // A zlib stream of zeros, compressed: 1 KiB of it in a few bytes.
    let zeros = [
        0x78, 0x9C, 0x63, 0x60, 0x18, 0x05, 0xA3, 0x60, 0x14, 0x0C, 0x77, 0x00, 0x00,
    ];
    bytes.extend_from_slice(&png_chunk(b"IDAT", &zeros));
    bytes.extend_from_slice(&png_chunk(b"IEND", &[]));
    bytes
}

#[test]
fn a_decompression_bomb_is_refused_before_decoding() {
    let bytes = bomb(100_000, 100_000);
    assert!(bytes.len() < 100);
    let failure = thumbnails(&bytes, &Limits::default()).unwrap_err();
    assert_eq!(
        failure,
        Failure::TooManyPixels {
            width: 100_000,
            height: 100_000,
            limit: 100_000_000
        }
    );
    assert_eq!(
        failure.to_string(),
        "This image is too large to preview (100,000 × 100,000 pixels; the limit is 100 megapixels)."
    );
    // With the pixel limit lifted the memory limit holds: 30 GB of RGB is
    // refused by its header, not by an allocation that fails.
    let lax = Limits {
        max_pixels: u64::MAX,
        ..Limits::default()
    };
    let failure = thumbnails(&bytes, &lax).unwrap_err();
    assert_eq!(
        failure,
        Failure::TooMuchMemory {
            needed: Some(30_000_000_000),
            limit: 512 * 1024 * 1024
        }
    );
    assert_eq!(failure.code(), "TooMuchMemory");
}

#[test]
fn a_bomb_within_the_limits_is_corrupt_not_a_crash() {
    // 2,000 × 2,000 passes the header checks; its few bytes of data can't
    // fill it, so the decoder reports a damaged file.
    let failure = thumbnails(&bomb(2_000, 2_000), &Limits::default()).unwrap_err();
    assert_eq!(failure.code(), "Corrupt", "{failure:?}");
}

#[test]
fn truncated_files_are_corrupt() {
    let image = DynamicImage::ImageRgb8(photo(300, 200));
    for format in [ImageFormat::Jpeg, ImageFormat::Png] {
        let bytes = encode(&image, format);
        for cut in [bytes.len() / 2, bytes.len() * 9 / 10, 40] {
            let failure = thumbnails(&bytes[..cut], &Limits::default()).unwrap_err();
            assert_eq!(
                failure.code(),
                "Corrupt",
                "{format:?} cut at {cut}: {failure:?}"
            );
            let name = if format == ImageFormat::Jpeg {
                "JPEG"
            } else {
                "PNG"
            };
            assert_eq!(
                failure.to_string(),
                format!("This {name} image is damaged or incomplete, so it can't be previewed.")
            );
        }
    }
}

#[test]
fn bytes_that_are_no_image_are_not_an_image() {
    let mut rng = Lcg(42);
    let mut noise: Vec<u8> = (0..4096).map(|_| rng.next() as u8).collect();
    noise[0] = b'x'; // no magic number starts with it
    assert_eq!(
        thumbnails(&noise, &Limits::default()),
        Err(Failure::NotAnImage)
    );
    for text in [
        &b""[..],
        b"hello",
        b"BM is a text that starts like a bitmap",
        b"P1 plain",
    ] {
        assert_eq!(
            thumbnails(text, &Limits::default()),
            Err(Failure::NotAnImage)
        );
    }
    // An SVG is text to this crate, whatever its name says.
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    assert_eq!(
        thumbnails(svg, &Limits::default()),
        Err(Failure::NotAnImage)
    );
}

#[test]
fn a_format_we_dont_preview_says_so() {
    let mut bytes = b"qoif".to_vec();
    bytes.extend_from_slice(&[0; 20]);
    let failure = thumbnails(&bytes, &Limits::default()).unwrap_err();
    assert_eq!(failure.code(), "Unsupported");
    assert_eq!(failure.to_string(), "Ferry can't preview QOI images.");
    assert_eq!(failure.detail(), None);
    // A variant of a format we read: a TIFF whose Compression tag (259,
    // SHORT, one value) names a scheme no decoder knows says which format,
    // and keeps the decoder's words for logs.
    let mut tiff = encode(&DynamicImage::ImageRgb8(photo(30, 20)), ImageFormat::Tiff);
    assert_eq!(&tiff[..4], b"II*\0");
    let entry = [0x03, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00];
    let at = tiff
        .windows(entry.len())
        .position(|w| w == entry)
        .expect("the encoder writes Compression = 1");
    tiff[at + 8] = 0x7F; // Compression = 127
    let failure = thumbnails(&tiff, &Limits::default()).unwrap_err();
    assert_eq!(failure.code(), "Unsupported", "{failure:?}");
    assert_eq!(
        failure.to_string(),
        "Ferry can't preview this kind of TIFF image."
    );
    assert!(failure.detail().is_some_and(|d| !d.is_empty()));
}

#[test]
fn input_over_the_limit_is_refused_unread() {
    let bytes = jpeg(&photo(100, 100));
    let limits = Limits {
        max_input_bytes: 100,
        ..Limits::default()
    };
    let failure = thumbnails(&bytes, &limits).unwrap_err();
    assert_eq!(
        failure,
        Failure::TooLarge {
            bytes: bytes.len() as u64,
            limit: 100
        }
    );
    // The same refusal for bytes that aren't an image at all: nothing was
    // looked at.
    assert_eq!(
        thumbnails(&[0; 101], &limits).unwrap_err().code(),
        "TooLarge"
    );
}

#[test]
fn an_exhausted_time_limit_times_out() {
    let limits = Limits {
        time_limit: std::time::Duration::ZERO,
        ..Limits::default()
    };
    let bytes = jpeg(&photo(200, 200));
    assert_eq!(thumbnails(&bytes, &limits), Err(Failure::TimedOut));
}

#[test]
fn the_same_bytes_give_the_same_thumbnails() {
    let bytes = jpeg(&photo(1000, 700));
    let first = thumbnails(&bytes, &Limits::default()).unwrap();
    let second = thumbnails(&bytes, &Limits::default()).unwrap();
    assert_eq!(first, second);
}

#[test]
fn which_files_are_worth_trying() {
    for (content_type, name) in [
        ("image/jpeg", "a"),
        ("IMAGE/PNG; charset=binary", "a"),
        ("application/octet-stream", "holiday.JPG"),
        ("", "scan.tiff"),
        ("image/webp", ""),
        ("image/gif", "x.gif"),
        ("image/bmp", "x"),
    ] {
        assert!(
            is_thumbnailable(content_type, name),
            "{content_type} {name}"
        );
    }
    for (content_type, name) in [
        ("image/svg+xml", "logo.svg"),
        ("image/svg+xml", "logo.png"),
        ("image/png", "logo.svg"),
        ("application/octet-stream", "drawing.SVGZ"),
        ("text/plain", "notes.txt"),
        ("application/pdf", "a.pdf"),
        ("", "jpeg"),
    ] {
        assert!(
            !is_thumbnailable(content_type, name),
            "{content_type} {name}"
        );
    }
}

/// Every truncation and a few hundred byte flips of a sample of each
/// format: each gives thumbnails or a Failure, never a panic (a caught one
/// would be `Internal`), and what it gives is well formed.
#[test]
fn hostile_bytes_never_panic() {
    let small = DynamicImage::ImageRgb8(photo(48, 40));
    let alpha = DynamicImage::ImageRgba8(RgbaImage::from_fn(40, 30, |x, y| {
        Rgba([x as u8 * 6, y as u8 * 8, 90, (x * 6) as u8])
    }));
    let mut samples = vec![jpeg_with_orientation(&photo(48, 40), 6)];
    for format in [
        ImageFormat::Jpeg,
        ImageFormat::Png,
        ImageFormat::Gif,
        ImageFormat::WebP,
        ImageFormat::Bmp,
        ImageFormat::Tiff,
    ] {
        samples.push(encode(&small, format));
    }
    samples.push(encode(&alpha, ImageFormat::Png));
    samples.push(encode(&alpha, ImageFormat::WebP));
    samples.push(bomb(3_000, 3_000));
    // Large enough for the JPEG decoded at reduced scale.
    let large = jpeg(&photo(700, 520));

    let limits = Limits::default();
    let mut rng = Lcg(2026);
    let mut outcomes = 0;
    let check = |bytes: &[u8], what: &str| match thumbnails(bytes, &limits) {
        Ok(made) => {
            assert_eq!(made.len(), 2, "{what}");
            for t in &made {
                assert!(t.width >= 1 && t.height >= 1, "{what}: {t:?}");
                assert!(t.width.max(t.height) <= t.size.long_side(), "{what}: {t:?}");
                assert!(!t.bytes.is_empty(), "{what}");
            }
        }
        Err(Failure::Internal { reason }) => panic!("{what}: {reason}"),
        Err(_) => {}
    };
    for (n, sample) in samples.iter().enumerate() {
        for cut in 0..sample.len() {
            check(&sample[..cut], &format!("sample {n} cut at {cut}"));
            outcomes += 1;
        }
        for round in 0..300 {
            let mut mutated = sample.clone();
            for _ in 0..1 + rng.next() % 4 {
                let at = (rng.next() as usize) % mutated.len();
                mutated[at] = match rng.next() % 3 {
                    0 => rng.next() as u8,
                    1 => 0xFF,
                    _ => mutated[at] ^ (1 << (rng.next() % 8)),
                };
            }
            check(&mutated, &format!("sample {n} flip round {round}"));
            outcomes += 1;
        }
    }
    // The reduced-scale decoder sees flips too (truncations stop at the
    // missing end marker before any decoder runs).
    for round in 0..150 {
        let mut mutated = large.clone();
        for _ in 0..1 + rng.next() % 4 {
            let at = (rng.next() as usize) % mutated.len();
            mutated[at] = rng.next() as u8;
        }
        check(&mutated, &format!("large JPEG flip round {round}"));
        outcomes += 1;
    }
    assert!(outcomes > 3_000);
}
