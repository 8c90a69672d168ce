//! The image budget: views larger than `max_side` pixels on their long side are scaled down
//! (aspect ratio kept) and re-encoded as JPEG at `jpeg_quality` before they are sent, since
//! upload time and image tokens grow with pixels while providers downscale large images anyway.
//! Images already within the budget are sent byte for byte as captured.
//!
//! [`BudgetedProvider`] applies it to every request; the response's `image_bytes` records what
//! was actually attached.

use super::{LvlmError, Part, Provider, Request, Response};
use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use std::sync::Arc;

/// Long side, in pixels, images are scaled down to by default: Anthropic's documented size
/// above which it resizes images itself (only adding latency), and above OpenAI's 768 px
/// short-side tiling at 16:9, so geoagent's 1280x720 views pass untouched.
pub(crate) const DEFAULT_MAX_IMAGE_SIDE: u32 = 1568;
/// JPEG quality for re-encoded images: visually lossless for street-level photos at roughly a
/// third of the bytes of quality 95.
pub(crate) const DEFAULT_IMAGE_JPEG_QUALITY: u8 = 85;
/// Smallest allowed `max_side`: below this, signs and road markings are unreadable.
pub(crate) const MIN_IMAGE_SIDE: u32 = 64;

/// How large images may be when sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageBudget {
    /// Longest side in pixels; 0 = no limit.
    pub max_side: u32,
    /// Quality (1-100) used when an image is re-encoded.
    pub jpeg_quality: u8,
}

impl Default for ImageBudget {
    fn default() -> Self {
        Self {
            max_side: DEFAULT_MAX_IMAGE_SIDE,
            jpeg_quality: DEFAULT_IMAGE_JPEG_QUALITY,
        }
    }
}

impl ImageBudget {
    pub(crate) fn is_active(&self) -> bool {
        self.max_side > 0
    }

    /// `jpeg` within the budget: the same bytes if it already fits, else scaled and re-encoded.
    pub(crate) fn apply(&self, jpeg: &[u8]) -> Result<Option<Vec<u8>>, image::ImageError> {
        if !self.is_active() {
            return Ok(None);
        }
        let (w, h) = image::ImageReader::new(std::io::Cursor::new(jpeg))
            .with_guessed_format()?
            .into_dimensions()?;
        if w.max(h) <= self.max_side {
            return Ok(None);
        }
        let img = image::load_from_memory(jpeg)?;
        let scaled = img.resize(self.max_side, self.max_side, FilterType::Triangle);
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, self.jpeg_quality.clamp(1, 100))
            .encode_image(&scaled.to_rgb8())?;
        Ok(Some(out))
    }

    /// `req` with every image within the budget. An image that cannot be decoded is sent as it
    /// is (the model may still read it; dropping it would change the round).
    pub(crate) fn apply_to(&self, req: &Request) -> Request {
        let mut out = req.clone();
        for m in &mut out.messages {
            for p in &mut m.parts {
                if let Part::Image { jpeg } = p {
                    match self.apply(jpeg) {
                        Ok(Some(smaller)) => *jpeg = smaller,
                        Ok(None) => {}
                        Err(e) => tracing::warn!(error = %e, "image not resized; sent as captured"),
                    }
                }
            }
        }
        out
    }
}

/// Applies an [`ImageBudget`] to every request before passing it on.
pub struct BudgetedProvider {
    inner: Arc<dyn Provider>,
    budget: ImageBudget,
}

impl BudgetedProvider {
    pub fn new(inner: Arc<dyn Provider>, budget: ImageBudget) -> Self {
        Self { inner, budget }
    }
}

#[async_trait::async_trait]
impl Provider for BudgetedProvider {
    fn name(&self) -> String {
        self.inner.name()
    }

    async fn complete(&self, req: &Request) -> Result<Response, LvlmError> {
        let budget = self.budget;
        let original = req.clone();
        // Decoding and encoding JPEGs is CPU work; keep it off the async workers.
        let shrunk = tokio::task::spawn_blocking(move || budget.apply_to(&original))
            .await
            .map_err(|e| LvlmError::Config(format!("image resizing failed: {e}")))?;
        let mut resp = self.inner.complete(&shrunk).await?;
        resp.image_bytes = shrunk.image_bytes();
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lvlm::{Message, Role};

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        });
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, 95)
            .encode_image(&img)
            .expect("encode");
        out
    }

    fn dims(b: &[u8]) -> (u32, u32) {
        let i = image::load_from_memory(b).expect("decodes");
        (i.width(), i.height())
    }

    #[test]
    fn large_images_shrink_small_ones_pass_untouched() {
        let budget = ImageBudget {
            max_side: 320,
            jpeg_quality: 70,
        };
        let big = jpeg(1280, 720);
        let small = budget.apply(&big).expect("ok").expect("resized");
        assert_eq!(dims(&small), (320, 180));
        assert!(
            small.len() < big.len() / 4,
            "{} vs {}",
            small.len(),
            big.len()
        );
        let fits = jpeg(300, 200);
        assert_eq!(budget.apply(&fits).expect("ok"), None);
        let off = ImageBudget {
            max_side: 0,
            ..budget
        };
        assert_eq!(off.apply(&big).expect("ok"), None);
        assert!(budget.apply(b"not a jpeg").is_err());
    }

    #[test]
    fn request_images_are_replaced_and_text_kept() {
        let budget = ImageBudget {
            max_side: 100,
            jpeg_quality: 80,
        };
        let req = Request {
            messages: vec![Message {
                role: Role::User,
                parts: vec![
                    Part::Text { text: "t".into() },
                    Part::Image {
                        jpeg: jpeg(400, 200),
                    },
                    Part::Image {
                        jpeg: b"broken".to_vec(),
                    },
                ],
            }],
            ..Request::default()
        };
        let out = budget.apply_to(&req);
        assert_eq!(out.messages[0].parts[0], req.messages[0].parts[0]);
        match &out.messages[0].parts[1] {
            Part::Image { jpeg } => assert_eq!(dims(jpeg), (100, 50)),
            other => panic!("{other:?}"),
        }
        assert_eq!(out.messages[0].parts[2], req.messages[0].parts[2]);
        assert!(out.image_bytes() < req.image_bytes());
    }
}
