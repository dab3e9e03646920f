//! Ferry's thumbnail engine: an image's bytes in, a small (64 px) and a
//! medium (320 px) thumbnail out, or a [`Failure`] a person understands.
//!
//! The crate is pure: it knows nothing of files, users, objects or IO, and
//! has no async. The thumbnailer consumer reads the bytes, calls
//! [`thumbnails`] off its async threads and stores what comes back. A call
//! takes one core (see `scaled_jpeg` for the one library that starts
//! threads of its own, and why they don't add a core).
//!
//! Every input is hostile until decoded, so the rules are:
//!
//! - The format is read from the bytes' magic numbers, never from a name or
//!   a content type ([`is_thumbnailable`] only decides whether to try).
//! - Input over [`Limits::max_input_bytes`] is refused before anything else.
//! - The header's dimensions are read first and refused above
//!   [`Limits::max_pixels`] or [`Limits::max_decoded_bytes`] before a pixel
//!   is decoded (decompression bombs); the decoder then runs with
//!   `image::Limits` pinned to those dimensions and that memory, so a header
//!   that lies can't make it allocate more.
//! - [`Limits::time_limit`] is checked between stages (header, decode, each
//!   resize and encode); a single stage isn't interrupted.
//! - Corrupt or truncated input gives [`Failure::Corrupt`]; a panic inside a
//!   decoder is caught and gives [`Failure::Internal`] (under
//!   `panic = "unwind"`, which the native builds use), never a crash.
//! - The output is deterministic: the same bytes give the same thumbnails.

use fast_image_resize as fr;
use image::metadata::Orientation;
use image::{DynamicImage, ExtendedColorType, ImageDecoder, ImageError, ImageFormat, ImageReader};
use std::fmt;
use std::io::Cursor;
use std::time::{Duration, Instant};

/// What [`thumbnails`] will accept: the defences against hostile input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes of input read at all; larger input is refused unread
    /// ([`Failure::TooLarge`]). Default 64 MiB.
    pub max_input_bytes: u64,
    /// The most pixels (width × height, as the header says) decoded
    /// ([`Failure::TooManyPixels`]). Default 100 megapixels.
    pub max_pixels: u64,
    /// The most memory the decoded image may take, checked against the
    /// header before decoding and handed to the decoder as its allocation
    /// limit ([`Failure::TooMuchMemory`]). Default 512 MiB.
    pub max_decoded_bytes: u64,
    /// How long the whole job may take, checked between stages
    /// ([`Failure::TimedOut`]). Default 20 seconds.
    pub time_limit: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: 64 * 1024 * 1024,
            max_pixels: 100_000_000,
            max_decoded_bytes: 512 * 1024 * 1024,
            time_limit: Duration::from_secs(20),
        }
    }
}

/// A thumbnail's size, by its long side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Size {
    /// 64 pixels on the long side: list rows and small tiles.
    Small,
    /// 320 pixels on the long side: tiles and the preview's placeholder.
    Medium,
}

impl Size {
    /// Every size, in the order [`thumbnails`] returns them.
    pub const ALL: [Size; 2] = [Size::Small, Size::Medium];

    /// The long side in pixels; a smaller image is never upscaled to it.
    pub fn long_side(self) -> u32 {
        match self {
            Size::Small => 64,
            Size::Medium => 320,
        }
    }

    /// The size's stable lowercase name ("small", "medium"), as object keys
    /// and the API spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Size::Small => "small",
            Size::Medium => "medium",
        }
    }
}

/// One encoded thumbnail, upright (EXIF orientation applied).
#[derive(Clone, PartialEq, Eq)]
pub struct Thumbnail {
    /// Which size this is.
    pub size: Size,
    /// Its width in pixels.
    pub width: u32,
    /// Its height in pixels.
    pub height: u32,
    /// `"image/jpeg"`, or `"image/png"` when the image has transparency.
    pub content_type: &'static str,
    /// The encoded image.
    pub bytes: Vec<u8>,
}

impl fmt::Debug for Thumbnail {
    // The bytes are summarised: a thumbnail's Debug goes into test failures
    // and logs, where thousands of numbers help nobody.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Thumbnail")
            .field("size", &self.size)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("content_type", &self.content_type)
            .field("bytes", &format_args!("{} bytes", self.bytes.len()))
            .finish()
    }
}

/// Why no thumbnails were made. `Display` is a sentence for the person
/// whose file it is; [`Failure::code`] a stable code for machines.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The bytes are no image format we know.
    #[error("This file is not an image Ferry can preview.")]
    NotAnImage,
    /// An image format (or a variant of one) Ferry doesn't preview.
    #[error("{}", unsupported_sentence(.format, .reason))]
    Unsupported {
        /// The format's name, as people know it ("ICO", "AVIF").
        format: &'static str,
        /// What about it isn't supported, when it's a variant of a format
        /// we do read; empty otherwise.
        reason: String,
    },
    /// More input than [`Limits::max_input_bytes`].
    #[error(
        "This image is too large to preview ({}; the limit is {}).",
        human_bytes(*.bytes),
        human_bytes(*.limit)
    )]
    TooLarge {
        /// The input's size in bytes.
        bytes: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// More pixels than [`Limits::max_pixels`], as the header says.
    #[error(
        "This image is too large to preview ({} × {} pixels; the limit is {} megapixels).",
        grouped(u64::from(*.width)),
        grouped(u64::from(*.height)),
        megapixels(*.limit)
    )]
    TooManyPixels {
        /// The width the header gives.
        width: u32,
        /// The height the header gives.
        height: u32,
        /// The limit in pixels.
        limit: u64,
    },
    /// Decoding would take more memory than [`Limits::max_decoded_bytes`].
    #[error(
        "This image needs too much memory to preview ({}the limit is {}).",
        .needed.map(|n| format!("{}; ", human_bytes(n))).unwrap_or_default(),
        human_bytes(*.limit)
    )]
    TooMuchMemory {
        /// What the header says decoding needs, when known before decoding;
        /// `None` when the decoder itself asked for more than allowed.
        needed: Option<u64>,
        /// The limit in bytes.
        limit: u64,
    },
    /// The image is damaged or cut short.
    #[error("This {format} image is damaged or incomplete, so it can't be previewed.")]
    Corrupt {
        /// The format the bytes claim to be.
        format: &'static str,
        /// The decoder's own words, for logs (see [`Failure::detail`]).
        reason: String,
    },
    /// The work took longer than [`Limits::time_limit`].
    #[error("This image took too long to preview.")]
    TimedOut,
    /// A fault of Ferry's (a decoder that panicked, a resize that failed),
    /// not of the file.
    #[error("Ferry could not make a preview of this image because of an error of its own.")]
    Internal {
        /// What went wrong, for logs.
        reason: String,
    },
}

impl Failure {
    /// A stable machine code: the variant's name. Events and logs carry it;
    /// it never changes for a variant.
    pub fn code(&self) -> &'static str {
        match self {
            Failure::NotAnImage => "NotAnImage",
            Failure::Unsupported { .. } => "Unsupported",
            Failure::TooLarge { .. } => "TooLarge",
            Failure::TooManyPixels { .. } => "TooManyPixels",
            Failure::TooMuchMemory { .. } => "TooMuchMemory",
            Failure::Corrupt { .. } => "Corrupt",
            Failure::TimedOut => "TimedOut",
            Failure::Internal { .. } => "Internal",
        }
    }

    /// The technical detail behind the sentence (a decoder's message), for
    /// logs; never shown as the reason to a person.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Failure::Corrupt { reason, .. } | Failure::Internal { reason } => Some(reason),
            Failure::Unsupported { reason, .. } if !reason.is_empty() => Some(reason),
            _ => None,
        }
    }
}

/// Whether a file is worth handing to [`thumbnails`], by its content type
/// or its name's extension: JPEG, PNG, GIF, WebP, BMP and TIFF. SVG never
/// is (it's a document that may carry script, not pixels), whatever the
/// other half says. This only decides whether to try: [`thumbnails`]
/// trusts the bytes, not this.
pub fn is_thumbnailable(content_type: &str, name: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let extension = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    if essence.starts_with("image/svg") || extension == "svg" || extension == "svgz" {
        return false;
    }
    let by_type = matches!(
        essence.as_str(),
        "image/jpeg"
            | "image/jpg"
            | "image/pjpeg"
            | "image/png"
            | "image/apng"
            | "image/gif"
            | "image/webp"
            | "image/bmp"
            | "image/x-bmp"
            | "image/x-ms-bmp"
            | "image/tiff"
            | "image/tiff-fx"
    );
    let by_extension = matches!(
        extension.as_str(),
        "jpg" | "jpeg" | "jpe" | "jfif" | "png" | "gif" | "webp" | "bmp" | "dib" | "tif" | "tiff"
    );
    by_type || by_extension
}

/// Makes the thumbnails of an image, [`Size::Small`] then
/// [`Size::Medium`], or says why not. The format is detected from the
/// bytes. Any input gives thumbnails or a [`Failure`], never a panic.
pub fn thumbnails(bytes: &[u8], limits: &Limits) -> Result<Vec<Thumbnail>, Failure> {
    let length = bytes.len() as u64;
    if length > limits.max_input_bytes {
        return Err(Failure::TooLarge {
            bytes: length,
            limit: limits.max_input_bytes,
        });
    }
    guarded(|| make(bytes, limits))
}

/// Runs `work`, turning a panic inside it into [`Failure::Internal`]: the
/// last line of defence against a decoder bug. `work` only reads its input,
/// so an unwind leaves nothing half-changed.
fn guarded(
    work: impl FnOnce() -> Result<Vec<Thumbnail>, Failure>,
) -> Result<Vec<Thumbnail>, Failure> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        Err(Failure::Internal {
            reason: format!("the image decoder panicked: {message}"),
        })
    })
}

/// The formats Ferry previews, by the names people know them by.
fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Png => "PNG",
        ImageFormat::Gif => "GIF",
        ImageFormat::WebP => "WebP",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Tiff => "TIFF",
        ImageFormat::Ico => "ICO",
        ImageFormat::Avif => "AVIF",
        ImageFormat::Hdr => "HDR",
        ImageFormat::OpenExr => "OpenEXR",
        ImageFormat::Pnm => "PNM",
        ImageFormat::Dds => "DDS",
        ImageFormat::Qoi => "QOI",
        ImageFormat::Farbfeld => "farbfeld",
        ImageFormat::Tga => "TGA",
        _ => "this kind of",
    }
}

/// The format the bytes' magic numbers say, among those Ferry previews.
fn detect(bytes: &[u8]) -> Result<ImageFormat, Failure> {
    let format = image::guess_format(bytes).map_err(|_| Failure::NotAnImage)?;
    match format {
        ImageFormat::Jpeg
        | ImageFormat::Png
        | ImageFormat::Gif
        | ImageFormat::WebP
        | ImageFormat::Tiff => Ok(format),
        // "BM" alone is two letters any text may start with; a BMP also
        // has one of the known DIB header sizes at offset 14.
        ImageFormat::Bmp => {
            let dib = bytes
                .get(14..18)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            match dib {
                Some(12 | 16 | 40 | 52 | 56 | 64 | 108 | 124) => Ok(format),
                _ => Err(Failure::NotAnImage),
            }
        }
        // Two- and four-byte magic numbers (PNM's "P1", ICO's) are too weak
        // to call text an image; the others are formats we don't preview.
        ImageFormat::Pnm | ImageFormat::Ico => Err(Failure::NotAnImage),
        other => Err(Failure::Unsupported {
            format: format_name(other),
            reason: String::new(),
        }),
    }
}

/// A decoder's error in the crate's words.
fn failure_of(error: ImageError, format: ImageFormat, limits: &Limits) -> Failure {
    let name = format_name(format);
    match error {
        // The header passed the checks, so the decoder asked for more than
        // the header implied: a lying header or a costly layout.
        ImageError::Limits(_) => Failure::TooMuchMemory {
            needed: None,
            limit: limits.max_decoded_bytes,
        },
        ImageError::Unsupported(unsupported) => Failure::Unsupported {
            format: name,
            reason: unsupported.to_string(),
        },
        ImageError::Decoding(e) => Failure::Corrupt {
            format: name,
            reason: e.to_string(),
        },
        // The input is a slice in memory: the only IO error is reading past
        // its end, a truncated file.
        ImageError::IoError(e) => Failure::Corrupt {
            format: name,
            reason: e.to_string(),
        },
        ImageError::Parameter(e) => Failure::Corrupt {
            format: name,
            reason: e.to_string(),
        },
        ImageError::Encoding(e) => Failure::Internal {
            reason: e.to_string(),
        },
    }
}

/// The pixels after decoding, in the four layouts the resizer and the
/// encoders share. Wider samples (16-bit, float) are brought to 8 bits.
struct Pixels {
    width: u32,
    height: u32,
    layout: Layout,
    data: Vec<u8>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    Luma,
    LumaAlpha,
    Rgb,
    Rgba,
}

impl Layout {
    fn resizer(self) -> fr::PixelType {
        match self {
            Layout::Luma => fr::PixelType::U8,
            Layout::LumaAlpha => fr::PixelType::U8x2,
            Layout::Rgb => fr::PixelType::U8x3,
            Layout::Rgba => fr::PixelType::U8x4,
        }
    }

    fn encoder(self) -> ExtendedColorType {
        match self {
            Layout::Luma => ExtendedColorType::L8,
            Layout::LumaAlpha => ExtendedColorType::La8,
            Layout::Rgb => ExtendedColorType::Rgb8,
            Layout::Rgba => ExtendedColorType::Rgba8,
        }
    }

    fn channels(self) -> usize {
        match self {
            Layout::Luma => 1,
            Layout::LumaAlpha => 2,
            Layout::Rgb => 3,
            Layout::Rgba => 4,
        }
    }
}

impl Pixels {
    /// Brings a decoded image to 8 bits, dropping an alpha channel that
    /// is opaque everywhere (so an opaque PNG screenshot becomes a JPEG).
    fn from_image(image: DynamicImage) -> Pixels {
        let (width, height) = (image.width(), image.height());
        let color = image.color();
        let (layout, data) = match (color.has_color(), color.has_alpha()) {
            (false, false) => (Layout::Luma, image.into_luma8().into_raw()),
            (false, true) => (Layout::LumaAlpha, image.into_luma_alpha8().into_raw()),
            (true, false) => (Layout::Rgb, image.into_rgb8().into_raw()),
            (true, true) => (Layout::Rgba, image.into_rgba8().into_raw()),
        };
        let mut pixels = Pixels {
            width,
            height,
            layout,
            data,
        };
        pixels.drop_opaque_alpha();
        pixels
    }

    fn drop_opaque_alpha(&mut self) {
        let channels = self.layout.channels();
        let opaque_layout = match self.layout {
            Layout::LumaAlpha => Layout::Luma,
            Layout::Rgba => Layout::Rgb,
            Layout::Luma | Layout::Rgb => return,
        };
        if self
            .data
            .chunks_exact(channels)
            .any(|p| p[channels - 1] != 255)
        {
            return;
        }
        let mut kept = Vec::with_capacity(self.data.len() / channels * (channels - 1));
        for pixel in self.data.chunks_exact(channels) {
            kept.extend_from_slice(&pixel[..channels - 1]);
        }
        self.data = kept;
        self.layout = opaque_layout;
    }

    /// A copy scaled to `width` × `height` (Lanczos3, alpha-aware).
    fn resized(&self, width: u32, height: u32) -> Result<Pixels, Failure> {
        if (width, height) == (self.width, self.height) {
            return Ok(Pixels {
                width,
                height,
                layout: self.layout,
                data: self.data.clone(),
            });
        }
        let internal = |e: &dyn fmt::Display| Failure::Internal {
            reason: format!("resizing failed: {e}"),
        };
        let source =
            fr::images::ImageRef::new(self.width, self.height, &self.data, self.layout.resizer())
                .map_err(|e| internal(&e))?;
        let mut target = fr::images::Image::new(width, height, self.layout.resizer());
        let options = fr::ResizeOptions::new()
            .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3));
        fr::Resizer::new()
            .resize(&source, &mut target, &options)
            .map_err(|e| internal(&e))?;
        Ok(Pixels {
            width,
            height,
            layout: self.layout,
            data: target.into_vec(),
        })
    }

    /// Turns the pixels upright as the EXIF orientation says.
    fn oriented(self, orientation: Orientation) -> Result<Pixels, Failure> {
        if orientation == Orientation::NoTransforms {
            return Ok(self);
        }
        let malformed = || Failure::Internal {
            reason: "a resized buffer had the wrong length".to_owned(),
        };
        let (w, h) = (self.width, self.height);
        let mut image = match self.layout {
            Layout::Luma => image::GrayImage::from_raw(w, h, self.data).map(DynamicImage::from),
            Layout::LumaAlpha => {
                image::GrayAlphaImage::from_raw(w, h, self.data).map(DynamicImage::from)
            }
            Layout::Rgb => image::RgbImage::from_raw(w, h, self.data).map(DynamicImage::from),
            Layout::Rgba => image::RgbaImage::from_raw(w, h, self.data).map(DynamicImage::from),
        }
        .ok_or_else(malformed)?;
        image.apply_orientation(orientation);
        Ok(Pixels {
            width: image.width(),
            height: image.height(),
            layout: self.layout,
            data: image.into_bytes(),
        })
    }

    /// Encodes as JPEG (quality 80) when opaque, PNG when it has alpha.
    fn encode(&self, size: Size) -> Result<Thumbnail, Failure> {
        let mut bytes = Vec::new();
        let internal = |e: ImageError| Failure::Internal {
            reason: format!("encoding the thumbnail failed: {e}"),
        };
        let content_type = match self.layout {
            Layout::Luma | Layout::Rgb => {
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 80)
                    .encode(&self.data, self.width, self.height, self.layout.encoder())
                    .map_err(internal)?;
                "image/jpeg"
            }
            Layout::LumaAlpha | Layout::Rgba => {
                use image::ImageEncoder as _;
                image::codecs::png::PngEncoder::new(&mut bytes)
                    .write_image(&self.data, self.width, self.height, self.layout.encoder())
                    .map_err(internal)?;
                "image/png"
            }
        };
        Ok(Thumbnail {
            size,
            width: self.width,
            height: self.height,
            content_type,
            bytes,
        })
    }
}

/// A large JPEG decoded at 1/2, 1/4 or 1/8 of its size by scaling its
/// inverse DCTs (the `jpeg-decoder` crate; `image`'s zune-jpeg can't),
/// the smallest scale still at least `target`. Entropy decoding is the
/// same either way, but the IDCT, upsampling and colour conversion run on
/// a fraction of the pixels: a 12-megapixel photo's thumbnails took about
/// a quarter less time than through zune-jpeg at full size (the `thumbs`
/// bench: 62–73 ms against 78–86 ms on the same machine).
///
/// Without its `rayon` feature jpeg-decoder still gives each colour
/// component's IDCT a short-lived thread of its own (there's no switch);
/// at these scales that work is a small fraction of the entropy decoding
/// the calling thread does, so the process's CPU time stays at one core
/// (the bench prints it: 0.97 of wall time).
///
/// `None` when scaling gains nothing (the image is under twice the target)
/// or this decoder can't or won't (CMYK, 16-bit, an error): the caller then
/// decodes with `image`, whose verdict on a damaged file is the one given.
fn scaled_jpeg(
    bytes: &[u8],
    format: ImageFormat,
    (width, height): (u32, u32),
    (target_width, target_height): (u32, u32),
    limits: &Limits,
) -> Option<Pixels> {
    if format != ImageFormat::Jpeg || width < 2 * target_width || height < 2 * target_height {
        return None;
    }
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder.set_max_decoding_buffer_size(usize::try_from(limits.max_decoded_bytes).ok()?);
    decoder.read_info().ok()?;
    let info = decoder.info()?;
    // Both parsers must agree on what the header says, or the limits
    // checked against one would not hold for the other.
    if (u32::from(info.width), u32::from(info.height)) != (width, height) {
        return None;
    }
    let layout = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => Layout::Luma,
        jpeg_decoder::PixelFormat::RGB24 => Layout::Rgb,
        _ => return None,
    };
    let (scaled_width, scaled_height) = decoder
        .scale(
            u16::try_from(target_width).ok()?,
            u16::try_from(target_height).ok()?,
        )
        .ok()?;
    let data = decoder.decode().ok()?;
    let (scaled_width, scaled_height) = (u32::from(scaled_width), u32::from(scaled_height));
    let expected = usize::try_from(scaled_width).ok()?
        * usize::try_from(scaled_height).ok()?
        * layout.channels();
    if data.len() != expected || scaled_width == 0 || scaled_height == 0 {
        return None;
    }
    Some(Pixels {
        width: scaled_width,
        height: scaled_height,
        layout,
        data,
    })
}

/// Whether the orientation swaps width and height.
fn transposes(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// The size that fits `width` × `height` into `long_side` on its long
/// side, keeping the aspect ratio, never larger than it was, never zero.
fn fit(width: u32, height: u32, long_side: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= long_side {
        return (width, height);
    }
    let scale = |side: u32| {
        let scaled =
            (u64::from(side) * u64::from(long_side) + u64::from(long) / 2) / u64::from(long);
        u32::try_from(scaled)
            .unwrap_or(long_side)
            .clamp(1, long_side)
    };
    (scale(width), scale(height))
}

/// Whether a JPEG has its end-of-image marker after its first scan: the
/// segments before the scan are walked by their lengths (an EXIF preview
/// in APP1 carries an end marker of its own), and within scan data an
/// 0xFF is always followed by 0x00 or a restart marker, so 0xFF 0xD9 there
/// can only be the real end. Bytes after it (a motion photo's video) don't
/// matter.
fn jpeg_is_whole(bytes: &[u8]) -> bool {
    let mut at = 2; // after SOI
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        while bytes.get(at) == Some(&0xFF) && bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (bytes.get(at), bytes.get(at + 1)) else {
            return false;
        };
        match marker {
            // Start of scan: the end marker must follow somewhere.
            // Searched from the end, where a whole file has it.
            0xDA => {
                return bytes[at..]
                    .windows(2)
                    .rev()
                    .any(|pair| pair == [0xFF, 0xD9]);
            }
            // Markers without a length.
            0x01 | 0xD0..=0xD7 => at += 2,
            // An end before any scan: nothing to show.
            0xD9 => return false,
            _ => {
                let Some(length) = bytes.get(at + 2..at + 4) else {
                    return false;
                };
                at += 2 + usize::from(u16::from_be_bytes([length[0], length[1]]));
            }
        }
    }
}

/// The deadline, checked between stages.
struct Clock {
    start: Instant,
    limit: Duration,
}

impl Clock {
    fn check(&self) -> Result<(), Failure> {
        if self.start.elapsed() > self.limit {
            Err(Failure::TimedOut)
        } else {
            Ok(())
        }
    }
}

/// The work, inside [`thumbnails`]' panic guard.
fn make(bytes: &[u8], limits: &Limits) -> Result<Vec<Thumbnail>, Failure> {
    let clock = Clock {
        start: Instant::now(),
        limit: limits.time_limit,
    };
    let format = detect(bytes)?;
    let fail = |e: ImageError| failure_of(e, format, limits);

    // The header alone: no pixel is decoded yet. The allocation limit
    // already holds for whatever the decoder reads with the header.
    let mut header_limits = image::Limits::no_limits();
    header_limits.max_alloc = Some(limits.max_decoded_bytes);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(header_limits);
    let mut decoder = reader.into_decoder().map_err(fail)?;
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels {
        return Err(Failure::TooManyPixels {
            width,
            height,
            limit: limits.max_pixels,
        });
    }
    let needed = decoder.total_bytes();
    if needed > limits.max_decoded_bytes {
        return Err(Failure::TooMuchMemory {
            needed: Some(needed),
            limit: limits.max_decoded_bytes,
        });
    }
    if width == 0 || height == 0 {
        return Err(Failure::Corrupt {
            format: format_name(format),
            reason: format!("the header says {width} × {height} pixels"),
        });
    }
    // The JPEG decoder fills a cut-off scan with grey rather than fail; a
    // preview of half a photo would mislead, so a JPEG must be whole.
    if format == ImageFormat::Jpeg && !jpeg_is_whole(bytes) {
        return Err(Failure::Corrupt {
            format: format_name(format),
            reason: "the file ends before the image's end marker".to_owned(),
        });
    }
    // From here the decoder may not grow past the header's dimensions, nor
    // allocate more than the limit, its output buffer included.
    let mut decode_limits = image::Limits::no_limits();
    decode_limits.max_image_width = Some(width);
    decode_limits.max_image_height = Some(height);
    decode_limits.max_alloc = Some(limits.max_decoded_bytes);
    decoder.set_limits(decode_limits).map_err(fail)?;
    // Metadata that can't be read leaves the image as stored: a bad EXIF
    // block shouldn't cost the thumbnail.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    clock.check()?;

    // Sizes are chosen for the upright image, then resized in the stored
    // orientation (the swap undone) so only the small result is rotated.
    let upright = |side| {
        let (w, h) = if transposes(orientation) {
            (height, width)
        } else {
            (width, height)
        };
        let (w, h) = fit(w, h, side);
        if transposes(orientation) {
            (h, w)
        } else {
            (w, h)
        }
    };
    let (mw, mh) = upright(Size::Medium.long_side());

    // A panic in the second decoder only loses the shortcut: `image`'s
    // decoder then gives its own verdict on the file.
    let scaled =
        std::panic::catch_unwind(|| scaled_jpeg(bytes, format, (width, height), (mw, mh), limits));
    let full = match scaled.ok().flatten() {
        Some(scaled) => scaled,
        None => {
            let image = DynamicImage::from_decoder(decoder).map_err(fail)?;
            if (image.width(), image.height()) != (width, height) {
                return Err(Failure::Corrupt {
                    format: format_name(format),
                    reason: "the decoded size differs from the header's".to_owned(),
                });
            }
            clock.check()?;
            Pixels::from_image(image)
        }
    };
    clock.check()?;

    let medium = full.resized(mw, mh)?;
    drop(full);
    clock.check()?;
    // The small one is made from the medium one: 320 → 64 loses nothing
    // visible and costs a fraction of resizing the full image again.
    let (sw, sh) = upright(Size::Small.long_side());
    let small = medium.resized(sw, sh)?;
    clock.check()?;

    let small = small.oriented(orientation)?.encode(Size::Small)?;
    let medium = medium.oriented(orientation)?.encode(Size::Medium)?;
    clock.check()?;
    Ok(vec![small, medium])
}

/// The sentence for a format, or a variant of one, Ferry doesn't preview;
/// the decoder's reason is technical, so it stays in [`Failure::detail`].
fn unsupported_sentence(format: &str, reason: &str) -> String {
    if reason.is_empty() {
        format!("Ferry can't preview {format} images.")
    } else {
        format!("Ferry can't preview this kind of {format} image.")
    }
}

/// `24000` → `"24,000"`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Pixels as megapixels, whole when exact: `100000000` → `"100"`.
fn megapixels(pixels: u64) -> String {
    if pixels.is_multiple_of(1_000_000) {
        grouped(pixels / 1_000_000)
    } else {
        format!("{:.1}", pixels as f64 / 1e6)
    }
}

/// Bytes in binary units with one decimal when needed: `"64 MiB"`.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["bytes", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{} bytes", grouped(bytes))
    } else if value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_keeps_the_aspect_and_never_upscales() {
        assert_eq!(fit(4000, 3000, 320), (320, 240));
        assert_eq!(fit(3000, 4000, 64), (48, 64));
        assert_eq!(fit(40, 30, 320), (40, 30));
        assert_eq!(fit(100_000, 1, 64), (64, 1));
    }

    #[test]
    fn sentences_read_like_the_issue_asks() {
        let failure = Failure::TooManyPixels {
            width: 24_000,
            height: 24_000,
            limit: 100_000_000,
        };
        assert_eq!(
            failure.to_string(),
            "This image is too large to preview (24,000 × 24,000 pixels; the limit is 100 megapixels)."
        );
        assert_eq!(failure.code(), "TooManyPixels");
        let too_large = Failure::TooLarge {
            bytes: 80 * 1024 * 1024 + 512 * 1024,
            limit: 64 * 1024 * 1024,
        };
        assert_eq!(
            too_large.to_string(),
            "This image is too large to preview (80.5 MiB; the limit is 64 MiB)."
        );
        assert_eq!(grouped(999), "999");
        assert_eq!(human_bytes(100), "100 bytes");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn a_panic_becomes_an_internal_failure() {
        let failure = guarded(|| panic!("a decoder bug")).unwrap_err();
        assert_eq!(failure.code(), "Internal");
        assert_eq!(
            failure.detail(),
            Some("the image decoder panicked: a decoder bug")
        );
    }
}
