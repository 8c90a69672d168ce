//! Fixtures for the map importer tests (`mod map_common;`): images the tests write themselves,
//! with real EXIF GPS (written with kamadak-exif's TIFF writer), GPano XMP, corrupt data and
//! decompression bombs.
#![allow(dead_code)]

use exif::{experimental::Writer, Field, In, Rational, Tag, Value};
use image::RgbImage;
use std::path::Path;

/// A smooth, seed-dependent picture: distinct seeds give perceptually different images.
pub fn scene(w: u32, h: u32, seed: u32) -> RgbImage {
    let f = 1.0 + f64::from(seed % 7);
    let g = 2.0 + f64::from((seed / 7) % 5);
    let phase = f64::from(seed) * 0.7;
    RgbImage::from_fn(w, h, |x, y| {
        let (u, v) = (f64::from(x) / f64::from(w), f64::from(y) / f64::from(h));
        let a = ((u * f * 6.3 + phase).sin() * (v * g * 3.1).cos() * 0.5 + 0.5) * 255.0;
        let b = ((u * g * 4.0 + v * f * 2.0 + phase).sin() * 0.5 + 0.5) * 255.0;
        image::Rgb([a as u8, b as u8, ((a + b) / 2.0) as u8])
    })
}

pub fn jpeg(img: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(img)
        .unwrap();
    out
}

/// Inserts an APPn segment right after SOI.
pub fn with_segment(jpeg: &[u8], marker: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8, 0xFF, marker];
    out.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn dms(x: f64) -> Vec<Rational> {
    let x = x.abs();
    let d = x.floor();
    let m = ((x - d) * 60.0).floor();
    let s = ((x - d) * 60.0 - m) * 60.0;
    vec![
        Rational::from((d as u32, 1)),
        Rational::from((m as u32, 1)),
        Rational::from(((s * 10_000.0).round() as u32, 10_000)),
    ]
}

/// The TIFF payload of an Exif segment with a camera make and a GPS position (as phones write).
pub fn gps_tiff(lat: f64, lon: f64) -> Vec<u8> {
    gps_tiff_raw(
        dms(lat),
        if lat < 0.0 { "S" } else { "N" },
        dms(lon),
        if lon < 0.0 { "W" } else { "E" },
    )
}

pub fn gps_tiff_raw(
    lat: Vec<Rational>,
    lat_ref: &str,
    lon: Vec<Rational>,
    lon_ref: &str,
) -> Vec<u8> {
    let make = Field {
        tag: Tag::Make,
        ifd_num: In::PRIMARY,
        value: Value::Ascii(vec![b"GeoTestCam".to_vec()]),
    };
    let lat_ref = Field {
        tag: Tag::GPSLatitudeRef,
        ifd_num: In::PRIMARY,
        value: Value::Ascii(vec![lat_ref.as_bytes().to_vec()]),
    };
    let lat = Field {
        tag: Tag::GPSLatitude,
        ifd_num: In::PRIMARY,
        value: Value::Rational(lat),
    };
    let lon_ref = Field {
        tag: Tag::GPSLongitudeRef,
        ifd_num: In::PRIMARY,
        value: Value::Ascii(vec![lon_ref.as_bytes().to_vec()]),
    };
    let lon = Field {
        tag: Tag::GPSLongitude,
        ifd_num: In::PRIMARY,
        value: Value::Rational(lon),
    };
    let mut w = Writer::new();
    for f in [&make, &lat_ref, &lat, &lon_ref, &lon] {
        w.push_field(f);
    }
    let mut buf = std::io::Cursor::new(Vec::new());
    w.write(&mut buf, false).unwrap();
    buf.into_inner()
}

/// A JPEG carrying an APP1 Exif segment with GPS.
pub fn with_gps(jpeg: &[u8], lat: f64, lon: f64) -> Vec<u8> {
    with_tiff(jpeg, &gps_tiff(lat, lon))
}

pub fn with_tiff(jpeg: &[u8], tiff: &[u8]) -> Vec<u8> {
    let payload = [b"Exif\0\0".as_slice(), tiff].concat();
    with_segment(jpeg, 0xE1, &payload)
}

/// Adds an XMP packet declaring a GPano equirectangular projection (and a tell-tale city name).
pub fn with_gpano(jpeg: &[u8]) -> Vec<u8> {
    let xmp = br#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:GPano="http://ns.google.com/photos/1.0/panorama/" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" GPano:ProjectionType="equirectangular" photoshop:City="Secretville"/></rdf:RDF></x:xmpmeta>"#;
    let payload = [b"http://ns.adobe.com/xap/1.0/\0".as_slice(), xmp].concat();
    with_segment(jpeg, 0xE1, &payload)
}

/// Adds an XMP packet with a city name and GPS, but no panorama projection.
pub fn with_xmp_city(jpeg: &[u8]) -> Vec<u8> {
    let xmp = br#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" xmlns:exif="http://ns.adobe.com/exif/1.0/" photoshop:City="Secretville" exif:GPSLatitude="64,8.796N"/></rdf:RDF></x:xmpmeta>"#;
    let payload = [b"http://ns.adobe.com/xap/1.0/\0".as_slice(), xmp].concat();
    with_segment(jpeg, 0xE1, &payload)
}

/// A JPEG whose frame header declares `side`×`side` pixels (a decompression bomb).
pub fn bomb(jpeg_bytes: &[u8], side: u16) -> Vec<u8> {
    let mut b = jpeg_bytes.to_vec();
    let sof = b
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("baseline JPEG has SOF0");
    b[sof + 5..sof + 7].copy_from_slice(&side.to_be_bytes());
    b[sof + 7..sof + 9].copy_from_slice(&side.to_be_bytes());
    b
}

/// A JPEG cut off before its frame header (keeping any EXIF before it): not decodable.
pub fn corrupt(jpeg_bytes: &[u8]) -> Vec<u8> {
    let sof = jpeg_bytes
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("baseline JPEG has SOF0");
    let mut b = jpeg_bytes[..sof].to_vec();
    b.extend_from_slice(&[0xFF, 0xD9]);
    b
}

pub fn write(path: &Path, bytes: &[u8]) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap();
    }
    std::fs::write(path, bytes).unwrap();
}

/// Reads the GPS position a file's EXIF carries, if any (what a snooping model could do).
pub fn exif_gps(bytes: &[u8]) -> Option<(f64, f64)> {
    let exif = exif::Reader::new()
        .read_from_container(&mut std::io::Cursor::new(bytes))
        .ok()?;
    let f = |t| match &exif.get_field(t, In::PRIMARY)?.value {
        Value::Rational(v) => Some(v[0].to_f64() + v[1].to_f64() / 60.0 + v[2].to_f64() / 3600.0),
        _ => None,
    };
    Some((f(Tag::GPSLatitude)?, f(Tag::GPSLongitude)?))
}

/// Every file under `dir`, recursively.
pub fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}
