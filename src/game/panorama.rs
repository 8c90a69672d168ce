//! The synthetic panorama painter (stub; replaced by the clue painter).
use super::Location;
use image::RgbImage;

/// Width of generated equirectangular panoramas (2:1).
pub const PANORAMA_WIDTH: u32 = 2048;
pub const PANORAMA_HEIGHT: u32 = PANORAMA_WIDTH / 2;

/// Paints an equirectangular panorama for `loc`; the same location always gives the same pixels.
pub fn paint(_loc: &Location, width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |_, y| {
        if y < height / 2 {
            image::Rgb([120, 170, 230])
        } else {
            image::Rgb([90, 120, 60])
        }
    })
}
