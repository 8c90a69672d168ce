//! Integrity of imagery: a round must not give itself away through the file it is played from.
//!
//! Owns the one safe way to read a map-pack image ([`load_clean`]): a size check on the file, a
//! header check on the declared dimensions (a decompression bomb declares gigapixels in a few
//! bytes), decoding under [`image::Limits`], and pixels only out — EXIF (GPS!), XMP and IPTC never
//! leave this module because a decoded [`DynamicImage`] carries none of them. Anything served to
//! the browser or sent to a model is re-encoded from those pixels ([`encode_clean_jpeg`]).
//!
//! Also here: reading which metadata a JPEG carries ([`jpeg_metadata`], used by tests and by
//! `map validate`), the GPano XMP test for 360° photos ([`is_gpano_equirectangular`]), and
//! perceptual hashes to find duplicate images ([`perceptual_hash`], [`is_duplicate`]).

use image::{DynamicImage, ImageReader, Limits, RgbImage};
use image_hasher::{HashAlg, HasherConfig, ImageHash};
use std::io::Read;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Largest width or height accepted. The widest consumer 360° cameras write ~12k×6k; 16k leaves
/// room for stitched panoramas while anything bigger is far more likely a bomb than a photo.
pub(crate) const MAX_IMAGE_SIDE_PX: u32 = 16_384;
/// Most pixels accepted: a 16k×8k panorama (~400 MB as RGB), the largest a pack needs.
pub(crate) const MAX_IMAGE_PIXELS: u64 = 16_384 * 8_192;
/// Most memory the decoder may allocate: one 16k×8k RGBA buffer plus headroom.
pub(crate) const MAX_DECODE_ALLOC_BYTES: u64 = 640 * 1024 * 1024;
/// Largest image file read: high-quality JPEGs of the largest accepted size stay well under it.
pub(crate) const MAX_IMAGE_FILE_BYTES: u64 = 100 * 1024 * 1024;
/// JPEG quality for pack images written by importers: visually lossless, so small text on signs
/// survives a second re-encode when served.
pub(crate) const PACK_JPEG_QUALITY: u8 = 92;
/// Two images whose 64-bit perceptual hashes differ in at most this many bits are reported as
/// duplicates: re-encodes and resizes of one photo stay within ~3 bits, different scenes differ in
/// ~32.
pub(crate) const DUPLICATE_HASH_BITS: u32 = 4;

/// Why an image cannot be used. Every variant names the file.
#[derive(Debug, Error)]
pub enum IntegrityError {
    #[error("{path}: cannot read the image file: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: the file is {bytes} bytes, more than the {max} accepted; shrink it first")]
    FileTooLarge { path: PathBuf, bytes: u64, max: u64 },
    #[error("{path}: declares {width}×{height} pixels, more than the {max_side} px per side / {max_pixels} pixels accepted (a decompression bomb or an image to shrink first)")]
    TooManyPixels {
        path: PathBuf,
        width: u32,
        height: u32,
        max_side: u32,
        max_pixels: u64,
    },
    #[error("{path}: not a readable JPEG/PNG image (corrupt or unsupported): {source}")]
    Decode {
        path: PathBuf,
        #[source]
        source: image::ImageError,
    },
    #[error("{path}: the JPEG ends before its end-of-image marker: the file is truncated (an interrupted copy or download); get the whole file again")]
    Truncated { path: PathBuf },
    #[error("{path}: the JPEG's image data is corrupt ({detail}): it would show grey or garbage where the damage is; get an intact copy of the file")]
    Corrupt { path: PathBuf, detail: String },
    #[error("cannot encode the image as JPEG: {0}")]
    Encode(#[source] image::ImageError),
}

fn decode_limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE_PX);
    limits.max_image_height = Some(MAX_IMAGE_SIDE_PX);
    limits.max_alloc = Some(MAX_DECODE_ALLOC_BYTES);
    limits
}

/// Reads an image file into pixels only, refusing oversized files, bombs and corrupt data.
/// The result carries no EXIF, XMP, IPTC or comments: this is the function to use before an
/// image is served to the browser or sent to a model.
pub fn load_clean(path: &Path) -> Result<DynamicImage, IntegrityError> {
    let bytes = read_limited(path)?;
    decode_clean(path, &bytes)
}

/// Like [`load_clean`] for bytes already in memory (`path` is only used in errors).
pub fn decode_clean(path: &Path, bytes: &[u8]) -> Result<DynamicImage, IntegrityError> {
    let decode = |source| IntegrityError::Decode {
        path: path.to_path_buf(),
        source,
    };
    let reader = || {
        ImageReader::new(std::io::Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| decode(image::ImageError::IoError(e)))
    };
    // The JPEG decoder pads a file cut short in its image data with grey instead of failing:
    // check for the end-of-image marker ourselves. (A file cut before its image data does not
    // decode at all, and the decoder says so.)
    if jpeg_scan_start(bytes).is_some() && !jpeg_is_complete(bytes) {
        return Err(IntegrityError::Truncated {
            path: path.to_path_buf(),
        });
    }
    // The header alone says how big the image claims to be: check it before allocating anything.
    let (width, height) = reader()?.into_dimensions().map_err(decode)?;
    if width > MAX_IMAGE_SIDE_PX
        || height > MAX_IMAGE_SIDE_PX
        || u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS
    {
        return Err(IntegrityError::TooManyPixels {
            path: path.to_path_buf(),
            width,
            height,
            max_side: MAX_IMAGE_SIDE_PX,
            max_pixels: MAX_IMAGE_PIXELS,
        });
    }
    let mut r = reader()?;
    r.limits(decode_limits());
    r.decode().map_err(decode)
}

/// [`decode_clean`], and for a JPEG a second, strict decode of the whole scan: the lenient one
/// behind `image` fills damaged scan data with grey and says nothing (a cut file with an end
/// marker appended, bytes overwritten mid-file), so an image that enters a pack or passes
/// `map validate` must also decode with every decoder warning an error. Kept apart from
/// [`decode_clean`] because a pack's images were checked when they entered it: serving them
/// need not pay for a second decode.
pub fn decode_strict(path: &Path, bytes: &[u8]) -> Result<DynamicImage, IntegrityError> {
    let img = decode_clean(path, bytes)?;
    if jpeg_scan_start(bytes).is_some() {
        let options = zune_core::options::DecoderOptions::default()
            .set_strict_mode(true)
            .set_max_width(MAX_IMAGE_SIDE_PX as usize)
            .set_max_height(MAX_IMAGE_SIDE_PX as usize);
        // A sequential JPEG is decoded without its end marker: the decoder treats an early
        // end-of-image marker as the end of the data and paints the rest, even in strict mode,
        // but running out of bytes before the last block is an error there. So a file cut short
        // with FF D9 appended fails, and a whole one decodes as before. A progressive one needs
        // its marker to end its last scan, so it is decoded whole; the decoder paints whatever
        // scans are there, so a file cut with the marker appended is found by its scans instead:
        // they must bring every coefficient of every component to its last bit.
        let progressive = jpeg_segments(bytes)
            .iter()
            .any(|(m, _)| matches!(m, 0xC2 | 0xC6 | 0xCA | 0xCE));
        if progressive {
            progressive_scans_complete(bytes).map_err(|detail| IntegrityError::Corrupt {
                path: path.to_path_buf(),
                detail,
            })?;
        }
        let scan_end = match progressive {
            false => first_end_marker(bytes).unwrap_or(bytes.len()),
            true => bytes.len(),
        };
        let mut d = zune_jpeg::JpegDecoder::new_with_options(
            zune_core::bytestream::ZCursor::new(&bytes[..scan_end]),
            options,
        );
        d.decode().map_err(|e| IntegrityError::Corrupt {
            path: path.to_path_buf(),
            detail: crate::text::line(&format!("{e:?}"), 200),
        })?;
    }
    Ok(img)
}

/// Reads the whole file, refusing more than [`MAX_IMAGE_FILE_BYTES`].
pub(crate) fn read_limited(path: &Path) -> Result<Vec<u8>, IntegrityError> {
    let io = |source| IntegrityError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len > MAX_IMAGE_FILE_BYTES {
        return Err(IntegrityError::FileTooLarge {
            path: path.to_path_buf(),
            bytes: len,
            max: MAX_IMAGE_FILE_BYTES,
        });
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(MAX_IMAGE_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_IMAGE_FILE_BYTES {
        return Err(IntegrityError::FileTooLarge {
            path: path.to_path_buf(),
            bytes: bytes.len() as u64,
            max: MAX_IMAGE_FILE_BYTES,
        });
    }
    Ok(bytes)
}

/// Scales `img` down (keeping its aspect ratio) so it fits in `max_w`×`max_h`.
pub(crate) fn fit_within(img: RgbImage, max_w: u32, max_h: u32) -> RgbImage {
    let (w, h) = img.dimensions();
    if w <= max_w && h <= max_h {
        return img;
    }
    let scale = (f64::from(max_w) / f64::from(w)).min(f64::from(max_h) / f64::from(h));
    let nw = ((f64::from(w) * scale).round() as u32).clamp(1, max_w);
    let nh = ((f64::from(h) * scale).round() as u32).clamp(1, max_h);
    image::imageops::resize(&img, nw, nh, image::imageops::FilterType::Triangle)
}

/// A baseline JPEG from pixels only: the encoder writes no EXIF, XMP, IPTC or comment segment.
pub(crate) fn encode_clean_jpeg(img: &RgbImage, quality: u8) -> Result<Vec<u8>, IntegrityError> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(img)
        .map_err(IntegrityError::Encode)?;
    Ok(out)
}

/// A kind of metadata segment found in a JPEG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metadata {
    /// APP1 `Exif`: camera data, often GPS coordinates.
    Exif,
    /// APP1 XMP (incl. extended XMP): may hold GPS, GPano, captions.
    Xmp,
    /// APP13 Photoshop/IPTC: captions, city, country.
    Iptc,
    /// COM: free text.
    Comment,
    /// Any other APPn segment (except APP0 JFIF/JFXX, which holds only pixel density).
    OtherApp(u8),
}

const XMP_HEADER: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
const XMP_EXTENDED_HEADER: &[u8] = b"http://ns.adobe.com/xmp/extension/\0";

/// The JPEG's marker segments before the image data, as (marker, payload). Stops at SOS or at the
/// first malformed length; not a JPEG gives an empty list.
fn jpeg_segments(bytes: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    if bytes.len() < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8 {
        return out;
    }
    let mut i = 2;
    while i + 4 <= bytes.len() {
        if bytes[i] != 0xFF {
            break;
        }
        let marker = bytes[i + 1];
        if marker == 0xFF {
            // Fill byte.
            i += 1;
            continue;
        }
        if (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            i += 2;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        if len < 2 || i + 2 + len > bytes.len() {
            break;
        }
        out.push((marker, &bytes[i + 4..i + 2 + len]));
        if marker == 0xDA {
            break;
        }
        i += 2 + len;
    }
    out
}

/// Where the first end-of-image marker (FF D9) after the image data starts.
fn first_end_marker(bytes: &[u8]) -> Option<usize> {
    let scan = jpeg_scan_start(bytes)?;
    bytes[scan..]
        .windows(2)
        .position(|w| w == [0xFF, 0xD9])
        .map(|i| scan + i)
}

/// Coefficients in a JPEG block: a progressive scan sends a band (`Ss..=Se`) of them.
const JPEG_BLOCK_COEFFICIENTS: usize = 64;

/// Whether a progressive JPEG's scans, read to its end-of-image marker, complete every
/// coefficient of every component of its frame (a scan with successive-approximation low bit
/// `Al = 0` sends a band's last bit). Encoders (libjpeg, mozjpeg, Pillow) always do; a file cut
/// between its scans, its end marker appended, lacks the later ones. Not caught: a cut inside
/// the last scan, whose missing blocks the decoder paints without a word. Says what is missing.
fn progressive_scans_complete(bytes: &[u8]) -> Result<(), String> {
    let frame = jpeg_segments(bytes)
        .into_iter()
        .find(|(m, _)| matches!(m, 0xC2 | 0xC6 | 0xCA | 0xCE))
        .map(|(_, p)| p)
        .ok_or("no progressive frame header")?;
    let count = usize::from(*frame.get(5).ok_or("short frame header")?);
    let ids: Vec<u8> = (0..count)
        .map(|c| frame.get(6 + 3 * c).copied().ok_or("short frame header"))
        .collect::<Result<_, _>>()?;
    // done[component][coefficient]: its last bit was sent.
    let mut done = vec![[false; JPEG_BLOCK_COEFFICIENTS]; ids.len()];
    let mut scans = 0usize;
    let mut i = 2;
    while i + 4 <= bytes.len() {
        if bytes[i] != 0xFF {
            return Err(format!("no marker at byte {i} between scans"));
        }
        let marker = bytes[i + 1];
        if marker == 0xD9 {
            break;
        }
        if marker == 0xFF || (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            i += if marker == 0xFF { 1 } else { 2 };
            continue;
        }
        let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        if len < 2 || i + 2 + len > bytes.len() {
            return Err(format!("a segment at byte {i} runs past the end"));
        }
        let payload = &bytes[i + 4..i + 2 + len];
        i += 2 + len;
        if marker != 0xDA {
            continue;
        }
        scans += 1;
        let n = usize::from(*payload.first().ok_or("empty scan header")?);
        let band = payload
            .get(1 + 2 * n..1 + 2 * n + 3)
            .ok_or("short scan header")?;
        let (ss, se, al) = (usize::from(band[0]), usize::from(band[1]), band[2] & 0x0F);
        if al == 0 && ss <= se && se < JPEG_BLOCK_COEFFICIENTS {
            for c in 0..n {
                if let Some(k) = ids.iter().position(|id| Some(id) == payload.get(1 + 2 * c)) {
                    done[k][ss..=se].iter_mut().for_each(|d| *d = true);
                }
            }
        }
        // Skip the entropy-coded data: in it an FF is followed by 00 (a stuffed byte) or a
        // restart marker, so the next other marker ends the scan.
        while i + 1 < bytes.len()
            && !(bytes[i] == 0xFF && bytes[i + 1] != 0x00 && !(0xD0..=0xD7).contains(&bytes[i + 1]))
        {
            i += 1;
        }
    }
    let missing = done
        .iter()
        .map(|c| c.iter().filter(|d| !**d).count())
        .sum::<usize>();
    if missing > 0 {
        return Err(format!(
            "its {scans} scan(s) leave {missing} coefficient(s) of {} incomplete: later scans are missing (a file cut short, its end marker appended)",
            ids.len() * JPEG_BLOCK_COEFFICIENTS
        ));
    }
    Ok(())
}

/// Whether a JPEG's image data is followed by its end-of-image marker (FF D9). Inside
/// entropy-coded data an FF byte is always followed by 00 or a restart marker, so the first FF D9
/// after the first start-of-scan is the real end; a file cut anywhere before it lacks one.
/// (Searching from the start would be fooled by an EXIF thumbnail's own end marker.) Bytes after
/// the marker (phone trailers, motion-photo videos) are allowed.
pub fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let Some(scan) = jpeg_scan_start(bytes) else {
        return false;
    };
    bytes[scan..].windows(2).any(|w| w == [0xFF, 0xD9])
}

/// Where the first scan's entropy-coded data starts (just after the SOS segment), if the JPEG's
/// marker segments lead to one.
fn jpeg_scan_start(bytes: &[u8]) -> Option<usize> {
    if bytes.len() < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8 {
        return None;
    }
    let mut i = 2;
    while i + 4 <= bytes.len() {
        if bytes[i] != 0xFF {
            return None;
        }
        let marker = bytes[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        if (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            i += 2;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        if len < 2 || i + 2 + len > bytes.len() {
            return None;
        }
        if marker == 0xDA {
            return Some(i + 2 + len);
        }
        i += 2 + len;
    }
    None
}

/// Which metadata segments a JPEG carries (empty for a clean one, or for non-JPEG bytes).
pub fn jpeg_metadata(bytes: &[u8]) -> Vec<Metadata> {
    jpeg_segments(bytes)
        .into_iter()
        .filter_map(|(marker, data)| match marker {
            0xE0 if data.starts_with(b"JFIF\0") || data.starts_with(b"JFXX\0") => None,
            0xE1 if data.starts_with(b"Exif\0") => Some(Metadata::Exif),
            0xE1 if data.starts_with(XMP_HEADER) || data.starts_with(XMP_EXTENDED_HEADER) => {
                Some(Metadata::Xmp)
            }
            0xED => Some(Metadata::Iptc),
            0xFE => Some(Metadata::Comment),
            m @ 0xE0..=0xEF => Some(Metadata::OtherApp(m - 0xE0)),
            _ => None,
        })
        .collect()
}

/// True when the JPEG's XMP declares a Google Photo Sphere (GPano) equirectangular projection,
/// as 360° cameras and phone photo-sphere modes write it.
pub(crate) fn is_gpano_equirectangular(bytes: &[u8]) -> bool {
    jpeg_segments(bytes).into_iter().any(|(marker, data)| {
        if marker != 0xE1 || !data.starts_with(XMP_HEADER) {
            return false;
        }
        let text = String::from_utf8_lossy(&data[XMP_HEADER.len()..]);
        // Both the attribute form (GPano:ProjectionType="equirectangular") and the element form
        // (<GPano:ProjectionType>equirectangular</...>) put the value right after the name.
        text.match_indices("ProjectionType").any(|(at, name)| {
            let rest = &text[at + name.len()..];
            let value = rest.trim_start_matches(['=', '"', '\'', '>']).trim_start();
            value.to_ascii_lowercase().starts_with("equirectangular")
        })
    })
}

/// A 64-bit perceptual hash (gradient hash of an 8×8 grey thumbnail): near-identical images get
/// near-identical hashes whatever their size, encoding or small edits.
pub(crate) fn perceptual_hash(img: &DynamicImage) -> ImageHash {
    HasherConfig::new()
        .hash_alg(HashAlg::Gradient)
        .hash_size(8, 8)
        .to_hasher()
        .hash_image(img)
}

/// Whether two hashes are close enough to call the images duplicates.
pub(crate) fn is_duplicate(a: &ImageHash, b: &ImageHash) -> bool {
    a.dist(b) <= DUPLICATE_HASH_BITS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(w: u32, h: u32, seed: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            let v = (x.wrapping_mul(2654435761) ^ y.wrapping_mul(40503) ^ seed.wrapping_mul(977))
                .wrapping_mul(2246822519);
            image::Rgb([(v >> 24) as u8, (v >> 16) as u8, (v >> 8) as u8])
        })
    }

    /// A smooth, seed-dependent picture (hashes of pure noise are meaningless after resizing).
    fn scene(w: u32, h: u32, seed: u32) -> RgbImage {
        let f = 1.0 + f64::from(seed % 7);
        let g = 2.0 + f64::from(seed % 5);
        RgbImage::from_fn(w, h, |x, y| {
            let (u, v) = (f64::from(x) / f64::from(w), f64::from(y) / f64::from(h));
            let a = ((u * f * 6.3).sin() * (v * g * 3.1).cos() * 0.5 + 0.5) * 255.0;
            let b = ((u * g * 4.0 + v * f * 2.0).sin() * 0.5 + 0.5) * 255.0;
            image::Rgb([a as u8, b as u8, ((a + b) / 2.0) as u8])
        })
    }

    fn with_segment(jpeg: &[u8], marker: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0xFF, 0xD8, 0xFF, marker];
        out.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
        out.extend_from_slice(payload);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    #[test]
    fn clean_jpeg_has_no_metadata_and_tagged_one_is_seen() {
        let clean = encode_clean_jpeg(&noise(32, 16, 1), 90).unwrap();
        assert!(
            jpeg_metadata(&clean).is_empty(),
            "{:?}",
            jpeg_metadata(&clean)
        );
        let exif = with_segment(&clean, 0xE1, b"Exif\0\0MM\0*");
        let xmp = with_segment(&exif, 0xE1, &[XMP_HEADER, b"<x/>"].concat());
        let all = with_segment(&with_segment(&xmp, 0xED, b"Photoshop 3.0\0"), 0xFE, b"hi");
        assert_eq!(
            jpeg_metadata(&all),
            vec![
                Metadata::Comment,
                Metadata::Iptc,
                Metadata::Xmp,
                Metadata::Exif
            ]
        );
        // Decoding and re-encoding drops all of it.
        let img = decode_clean(Path::new("t.jpg"), &all).unwrap();
        let again = encode_clean_jpeg(&img.to_rgb8(), 90).unwrap();
        assert!(jpeg_metadata(&again).is_empty());
        assert!(jpeg_metadata(b"not a jpeg").is_empty());
    }

    #[test]
    fn gpano_attribute_and_element_forms() {
        let clean = encode_clean_jpeg(&noise(8, 8, 2), 90).unwrap();
        let attr = [
            XMP_HEADER,
            br#"<rdf:Description GPano:ProjectionType="equirectangular"/>"#,
        ]
        .concat();
        let elem = [
            XMP_HEADER,
            b"<GPano:ProjectionType>equirectangular</GPano:ProjectionType>",
        ]
        .concat();
        let cyl = [XMP_HEADER, br#"GPano:ProjectionType="cylindrical""#].concat();
        assert!(is_gpano_equirectangular(&with_segment(&clean, 0xE1, &attr)));
        assert!(is_gpano_equirectangular(&with_segment(&clean, 0xE1, &elem)));
        assert!(!is_gpano_equirectangular(&with_segment(&clean, 0xE1, &cyl)));
        assert!(!is_gpano_equirectangular(&clean));
    }

    #[test]
    fn declared_gigapixels_are_refused_before_decoding() {
        let mut jpeg = encode_clean_jpeg(&noise(16, 16, 3), 90).unwrap();
        // Patch the SOF0 frame header: height and width follow the precision byte.
        let sof = jpeg
            .windows(2)
            .position(|w| w == [0xFF, 0xC0])
            .expect("baseline JPEG has SOF0");
        jpeg[sof + 5..sof + 7].copy_from_slice(&60_000u16.to_be_bytes());
        jpeg[sof + 7..sof + 9].copy_from_slice(&60_000u16.to_be_bytes());
        let err = decode_clean(Path::new("bomb.jpg"), &jpeg)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("bomb.jpg") && err.contains("60000×60000"),
            "{err}"
        );
    }

    /// Whole files of every kind the project carries pass (tests/fixtures/jpeg holds progressive,
    /// greyscale and 4:2:0 files made with Pillow, kinds the project's own encoder never writes).
    #[test]
    fn every_jpeg_the_project_carries_decodes_strictly() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut n = 0;
        let mut stack = vec![root.join("data"), root.join("tests")];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "jpg" || x == "jpeg") {
                    let bytes = std::fs::read(&p).unwrap();
                    if decode_clean(&p, &bytes).is_ok() {
                        n += 1;
                        if let Err(e) = decode_strict(&p, &bytes) {
                            panic!("{e}");
                        }
                    }
                }
            }
        }
        assert!(n >= 3, "{n}");
    }

    /// Issue 25 item 9's residual: a progressive JPEG cut between its scans, FF D9 appended,
    /// decoded (the decoder paints the scans it has) and passed the strict check. The file is a
    /// real progressive one (Pillow's, tests/fixtures/jpeg), cut in the middle of its scans.
    #[test]
    fn a_progressive_jpeg_cut_short_is_corrupt_even_with_an_end_marker() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jpeg/progressive.jpg");
        let jpeg = std::fs::read(&path).unwrap();
        assert!(decode_strict(&path, &jpeg).is_ok());
        let start = jpeg_scan_start(&jpeg).unwrap();
        let mut cut = jpeg[..start + (jpeg.len() - start) / 2].to_vec();
        cut.extend_from_slice(&[0xFF, 0xD9]);
        assert!(
            decode_clean(Path::new("cut.jpg"), &cut).is_ok(),
            "the lenient decode accepts it"
        );
        let Err(e) = decode_strict(Path::new("cut.jpg"), &cut) else {
            panic!("the strict decode accepts a progressive JPEG cut short");
        };
        assert!(
            matches!(e, IntegrityError::Corrupt { .. })
                && e.to_string().contains("cut.jpg")
                && e.to_string().contains("scans are missing"),
            "{e}"
        );
    }

    #[test]
    fn damaged_scan_data_is_corrupt_even_with_an_end_marker() {
        let jpeg = encode_clean_jpeg(&scene(320, 240, 3), 90).unwrap();
        assert!(decode_strict(Path::new("ok.jpg"), &jpeg).is_ok());
        let start = jpeg_scan_start(&jpeg).unwrap();
        // A file cut halfway through its scan, with the end marker appended.
        let mut cut = jpeg[..start + (jpeg.len() - start) / 2].to_vec();
        cut.extend_from_slice(&[0xFF, 0xD9]);
        // 2,000 bytes overwritten in the middle of the scan.
        let mut overwritten = jpeg.clone();
        let mid = start + (jpeg.len() - start) / 3;
        let mut x = 0x9E37_79B9u32;
        for b in &mut overwritten[mid..mid + 2_000] {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = (x >> 24) as u8;
        }
        for (name, bytes) in [("overwritten.jpg", &overwritten), ("cut.jpg", &cut)] {
            assert!(
                decode_clean(Path::new(name), bytes).is_ok(),
                "{name}: the lenient decode accepts it, which is why the strict one exists"
            );
            let Err(e) = decode_strict(Path::new(name), bytes) else {
                panic!("{name}: the strict decode accepts damaged scan data");
            };
            assert!(
                matches!(e, IntegrityError::Corrupt { .. }) && e.to_string().contains(name),
                "{name}: {e}"
            );
        }
    }

    #[test]
    fn corrupt_and_missing_files_name_the_file() {
        let t = tempfile::tempdir().unwrap();
        let bad = t.path().join("bad.jpg");
        std::fs::write(&bad, b"\xFF\xD8\xFF\xE0garbage").unwrap();
        let e = load_clean(&bad).unwrap_err().to_string();
        assert!(e.contains("bad.jpg") && e.contains("not a readable"), "{e}");
        let e = load_clean(&t.path().join("gone.jpg"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("gone.jpg"), "{e}");
    }

    #[test]
    fn perceptual_hash_finds_reencoded_copies_not_other_scenes() {
        let a = DynamicImage::ImageRgb8(scene(256, 128, 5));
        let smaller = DynamicImage::ImageRgb8(fit_within(a.to_rgb8(), 128, 64));
        let jpeg = encode_clean_jpeg(&smaller.to_rgb8(), 60).unwrap();
        let copy = decode_clean(Path::new("c.jpg"), &jpeg).unwrap();
        let other = DynamicImage::ImageRgb8(scene(256, 128, 8));
        let (ha, hc, ho) = (
            perceptual_hash(&a),
            perceptual_hash(&copy),
            perceptual_hash(&other),
        );
        assert!(is_duplicate(&ha, &hc), "dist {}", ha.dist(&hc));
        assert!(!is_duplicate(&ha, &ho), "dist {}", ha.dist(&ho));
    }

    #[test]
    fn fit_within_keeps_aspect() {
        assert_eq!(
            fit_within(noise(400, 100, 1), 200, 200).dimensions(),
            (200, 50)
        );
        assert_eq!(
            fit_within(noise(40, 10, 1), 200, 200).dimensions(),
            (40, 10)
        );
    }
}
