//! Embedding pictures for the reference index: the built-in descriptor (offline), or an
//! embedding endpoint speaking the OpenAI `/v1/embeddings` shape with images as `data:` URLs
//! (vLLM and Infinity serve CLIP/SigLIP models this way; a CLIP server behind such a shim works
//! too). Both embed a panorama as its level band cut into the agent's four views, and a round as
//! the mean of its views, so references and queries are comparable.
//!
//! [`build_index`] turns map packs (photographed or painted) into a [`ReferenceIndex`].

use super::descriptor::{self, DESCRIPTOR_DIM, DESCRIPTOR_NAME};
use super::{IndexError, IndexMeta, ReferenceIndex};
use crate::game::{panorama, Imagery, Map};
use base64::Engine as _;
use image::RgbImage;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;
use thiserror::Error;

/// Panoramas painted for the built-in world are rendered at this size for indexing: the
/// descriptor reduces every slice to 96×64 anyway, and painting is the slow part.
pub(crate) const INDEX_PAINT_SIZE: (u32, u32) = (1024, 512);
/// One embedding request; image embedding models answer a small batch in well under a second.
pub(crate) const EMBED_TIMEOUT: Duration = Duration::from_secs(60);
/// Images re-encoded for an embedding endpoint use this JPEG quality: enough for an embedding
/// model, and small requests.
const EMBED_JPEG_QUALITY: u8 = 85;
/// Characters of an error body quoted in [`EmbedError::Http`]: the server's message, not a page.
const ERROR_EXCERPT_CHARS: usize = 300;

/// Why an embedding failed; names the image, URL or field.
#[derive(Debug, Error)]
pub enum EmbedError {
    #[error("image {what} could not be read: {detail}")]
    Image { what: String, detail: String },
    #[error("embedding endpoint {url}: {detail}")]
    Http { url: String, detail: String },
    #[error("embedding endpoint {url} answered in an unexpected shape: {detail} (expected {{\"data\": [{{\"embedding\": [...]}}]}})")]
    Shape { url: String, detail: String },
    #[error("no images to embed")]
    NoImages,
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// Turns pictures into vectors.
#[async_trait::async_trait]
pub trait Embedder: Send + Sync {
    /// Stored in the index header; a query must use an embedder of the same name.
    fn name(&self) -> String;
    /// One vector for several images of one place (their mean, unit length).
    async fn embed_images(&self, images: &[RgbImage]) -> Result<Vec<f32>, EmbedError>;
}

/// Decodes JPEG views (as the agent captured them) for embedding.
pub fn decode_views(jpegs: &[Vec<u8>]) -> Result<Vec<RgbImage>, EmbedError> {
    jpegs
        .iter()
        .enumerate()
        .map(|(i, j)| {
            image::load_from_memory(j)
                .map(|d| d.to_rgb8())
                .map_err(|e| EmbedError::Image {
                    what: format!("view {}", i + 1),
                    detail: e.to_string(),
                })
        })
        .collect()
}

/// The built-in descriptor ([`descriptor`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct BuiltinEmbedder;

#[async_trait::async_trait]
impl Embedder for BuiltinEmbedder {
    fn name(&self) -> String {
        DESCRIPTOR_NAME.into()
    }

    async fn embed_images(&self, images: &[RgbImage]) -> Result<Vec<f32>, EmbedError> {
        let parts: Vec<Vec<f32>> = images.iter().map(descriptor::describe).collect();
        descriptor::mean(&parts).ok_or(EmbedError::NoImages)
    }
}

/// An OpenAI-compatible `/embeddings` endpoint that accepts images as `data:image/jpeg` URLs.
pub struct HttpEmbedder {
    url: String,
    model: String,
    api_key: Option<SecretString>,
    http: reqwest::Client,
}

impl std::fmt::Debug for HttpEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpEmbedder")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl HttpEmbedder {
    /// `base_url` is the API root (`http://127.0.0.1:8000/v1`); requests go to `<base>/embeddings`.
    pub fn new(
        base_url: &str,
        model: &str,
        api_key: Option<SecretString>,
    ) -> Result<Self, EmbedError> {
        let url = format!("{}/embeddings", base_url.trim_end_matches('/'));
        let http = reqwest::Client::builder()
            .timeout(EMBED_TIMEOUT)
            .build()
            .map_err(|e| EmbedError::Http {
                url: url.clone(),
                detail: e.to_string(),
            })?;
        Ok(Self {
            url,
            model: model.to_string(),
            api_key,
            http,
        })
    }
}

impl HttpEmbedder {
    /// `text` with the API key replaced wherever it occurs.
    fn redact(&self, text: &str) -> String {
        match self.api_key.as_ref().map(|k| k.expose_secret()) {
            Some(k) if !k.is_empty() => text.replace(k, "[redacted]"),
            _ => text.to_string(),
        }
    }

    /// [`HttpEmbedder::redact`] over every string of a JSON answer (keys too), catching a key
    /// written with JSON escapes.
    fn redact_json(&self, v: &mut serde_json::Value) {
        use serde_json::Value;
        match v {
            Value::String(s) => *s = self.redact(s),
            Value::Array(items) => items.iter_mut().for_each(|x| self.redact_json(x)),
            Value::Object(map) => {
                for (k, mut x) in std::mem::take(map) {
                    self.redact_json(&mut x);
                    map.insert(self.redact(&k), x);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

fn data_url(img: &RgbImage) -> Result<String, EmbedError> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, EMBED_JPEG_QUALITY)
        .encode_image(img)
        .map_err(|e| EmbedError::Image {
            what: "for the embedding request".into(),
            detail: e.to_string(),
        })?;
    Ok(format!(
        "data:image/jpeg;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(out)
    ))
}

#[async_trait::async_trait]
impl Embedder for HttpEmbedder {
    fn name(&self) -> String {
        format!("http:{}", self.model)
    }

    async fn embed_images(&self, images: &[RgbImage]) -> Result<Vec<f32>, EmbedError> {
        if images.is_empty() {
            return Err(EmbedError::NoImages);
        }
        let input = images.iter().map(data_url).collect::<Result<Vec<_>, _>>()?;
        let body = serde_json::json!({"model": self.model, "input": input});
        let mut req = self.http.post(&self.url).json(&body);
        if let Some(k) = &self.api_key {
            req = req.bearer_auth(k.expose_secret());
        }
        let http_err = |detail: String| EmbedError::Http {
            url: self.url.clone(),
            detail,
        };
        // reqwest errors carry the URL, never headers, so the key cannot leak through them.
        let resp = req.send().await.map_err(|e| http_err(e.to_string()))?;
        let status = resp.status();
        // Everything read back is redacted at once, before any of it can reach a message: a
        // server may echo the key (a 401 quoting it, or any field of a 200).
        let text = self.redact(&resp.text().await.map_err(|e| http_err(e.to_string()))?);
        if !status.is_success() {
            let excerpt: String = text.chars().take(ERROR_EXCERPT_CHARS).collect();
            return Err(http_err(format!("HTTP {status}: {excerpt}")));
        }
        let shape = |detail: String| EmbedError::Shape {
            url: self.url.clone(),
            detail,
        };
        let mut v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| shape(format!("not JSON: {e}")))?;
        self.redact_json(&mut v);
        let data = v["data"]
            .as_array()
            .ok_or_else(|| shape("no `data` array".into()))?;
        if data.len() != images.len() {
            return Err(shape(format!(
                "{} embeddings for {} images",
                data.len(),
                images.len()
            )));
        }
        let mut vectors: Vec<Vec<f32>> = Vec::with_capacity(data.len());
        for (i, d) in data.iter().enumerate() {
            let emb = d["embedding"]
                .as_array()
                .ok_or_else(|| shape(format!("data[{i}].embedding is not an array")))?;
            let mut vec = Vec::with_capacity(emb.len());
            for x in emb {
                vec.push(
                    x.as_f64()
                        .ok_or_else(|| shape(format!("data[{i}].embedding holds {x}")))?
                        as f32,
                );
            }
            if !vectors.is_empty() && vec.len() != vectors[0].len() {
                return Err(shape(format!("data[{i}].embedding has another length")));
            }
            super::normalise(&mut vec)
                .ok_or_else(|| shape(format!("data[{i}].embedding is zero")))?;
            vectors.push(vec);
        }
        descriptor::mean(&vectors).ok_or_else(|| shape("embeddings cancel out".into()))
    }
}

/// The panorama of a location, as the game would show it.
fn location_panorama(loc: &crate::game::Location) -> Result<RgbImage, EmbedError> {
    match &loc.imagery {
        Imagery::Generated => Ok(panorama::paint(loc, INDEX_PAINT_SIZE.0, INDEX_PAINT_SIZE.1)),
        // Size- and bomb-checked like everything the game serves; the error names the file.
        Imagery::File { path } | Imagery::Photo { path } => {
            crate::game::integrity::load_clean(path)
                .map(|d| d.to_rgb8())
                .map_err(|e| EmbedError::Image {
                    what: path.display().to_string(),
                    detail: e.to_string(),
                })
        }
    }
}

/// Embeds every location of `maps` (each panorama as its four level slices) into an index that
/// records the maps' ids as its sources. `progress` is called after each location.
pub async fn build_index(
    maps: &[&Map],
    embedder: &dyn Embedder,
    mut progress: impl FnMut(usize, usize),
) -> Result<ReferenceIndex, EmbedError> {
    let total: usize = maps.iter().map(|m| m.locations.len()).sum();
    let mut refs = Vec::with_capacity(total);
    let mut dim = None;
    for map in maps {
        for loc in &map.locations {
            let pano = location_panorama(loc)?;
            let v = embedder
                .embed_images(&descriptor::panorama_slices(&pano))
                .await?;
            dim.get_or_insert(v.len());
            refs.push((v, loc.pos));
            progress(refs.len(), total);
        }
    }
    let meta = IndexMeta {
        embedder: embedder.name(),
        sources: maps.iter().map(|m| m.id.clone()).collect(),
    };
    Ok(ReferenceIndex::from_vectors(
        meta,
        dim.unwrap_or(DESCRIPTOR_DIM),
        refs,
    )?)
}
