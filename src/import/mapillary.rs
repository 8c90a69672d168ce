//! `map import mapillary`: sample 360° panoramas from Mapillary (open, CC BY-SA 4.0 street-level
//! imagery) inside a bounding box or a country, with each image's attribution.
//!
//! Protocol: the Graph API v4 search,
//! `GET {api}/images?fields=id,computed_geometry,geometry,is_pano,thumb_2048_url,creator,captured_at&bbox=W,S,E,N&is_pano=true&limit=N`
//! with `Authorization: OAuth <token>`, answering `{"data":[{...}],"paging":{...}}` or
//! `{"error":{"message":...}}`. The API refuses boxes of 0.01 square degrees or more, so a larger
//! area is sampled as random small tiles inside it (inside the country's own borders for
//! `--country`, from the offline OpenStreetMap boundaries), one panorama per tile, which also
//! spreads the sample instead of taking one busy street.
//!
//! The token is sent only to the API origin (never to the image CDN, never to a `paging.next`
//! on another host), is marked sensitive in the request, and is redacted from every error
//! message; it never reaches logs, errors or the pack.

use super::{ImportError, ImportReport, Importer, NewLocation};
use crate::game::integrity;
use crate::geo::{reverse, LatLon};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::Duration;
use thiserror::Error;
use url::Url;

/// The public Graph API.
pub(crate) const DEFAULT_API_BASE: &str = "https://graph.mapillary.com";
/// Fields requested for each image: position (computed = corrected by Mapillary's SfM, else the
/// raw GPS), whether it is 360°, a 2048 px wide image URL, and who took it and when.
pub const IMAGE_FIELDS: &str =
    "id,computed_geometry,geometry,is_pano,thumb_2048_url,creator,captured_at";
/// Licence of all Mapillary imagery.
pub(crate) const LICENSE: &str = "CC BY-SA 4.0";
/// The API answers bounding boxes smaller than this many square degrees only.
pub const MAX_QUERY_AREA_DEG2: f64 = 0.01;
/// Side of the tiles a large area is sampled with: 0.09° squares (0.0081 deg²) stay under the
/// API's area limit with margin, and are ~10 km wide, about a town.
pub(crate) const TILE_DEG: f64 = 0.09;
/// Cells a country is cut into for sampling: 0.1° (~10 km) resolves small countries and
/// coastlines, and even Russia is only ~200k point-in-polygon checks.
pub(crate) const COUNTRY_CELL_DEG: f64 = 0.1;
/// Images asked for per tile: enough to find a panorama among flat photos of a busy area,
/// small enough to keep responses quick.
pub(crate) const TILE_LIMIT: usize = 100;
/// Images asked for when the whole area fits in one query (the API's page maximum is 2000).
pub(crate) const SINGLE_QUERY_LIMIT: usize = 2000;
/// Tile queries allowed per wanted panorama before giving up: sparse countries have most tiles
/// empty; 25 tries each finds coverage where there is any without querying forever.
pub(crate) const MAX_TILE_TRIES_PER_IMAGE: usize = 25;
/// One API call or image download. Thumbnails are ~0.5–1 MB; the API can be slow on big boxes.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Rate-limited (429) calls are retried this often before the import stops, keeping all it has.
pub(crate) const MAX_RATE_LIMIT_RETRIES: u32 = 4;
/// Wait before retrying a 429 without `Retry-After`; doubles per retry.
pub(crate) const RATE_LIMIT_BASE_WAIT: Duration = Duration::from_secs(2);
/// Longest wait for one retry, also the cap on `Retry-After`; Mapillary's limits are per minute.
pub(crate) const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);
/// Longest error message from the API that is quoted in an error.
const MAX_QUOTED_CHARS: usize = 300;

#[derive(Debug, Error)]
pub enum MapillaryError {
    #[error("environment variable {var} is not set or empty: put your Mapillary client token (MLY|...) in it, or name another variable with --token-env")]
    NoToken { var: String },
    #[error("Mapillary refused the access token (HTTP {status}): {detail}; check the token in ${var} (--token-env)")]
    Unauthorized {
        status: u16,
        detail: String,
        var: String,
    },
    #[error("Mapillary kept answering 429 Too Many Requests after {retries} retries; wait a few minutes and re-run the same command (everything imported so far is kept)")]
    RateLimited { retries: u32 },
    #[error("Mapillary answered HTTP {status} for {what}: {detail}")]
    Http {
        status: u16,
        what: String,
        detail: String,
    },
    #[error("cannot reach Mapillary ({what}): {detail}")]
    Network { what: String, detail: String },
    #[error("Mapillary sent a response this build cannot read ({what}): {detail}")]
    BadResponse { what: String, detail: String },
    #[error("--country {0}: not an ISO 3166-1 alpha-2 code with land in the offline country boundaries (e.g. CH, KE, JP)")]
    UnknownCountry(String),
    #[error(
        "--bbox {0}: expected W,S,E,N in degrees with W < E and S < N, e.g. 7.70,45.98,7.80,46.05"
    )]
    BadBbox(String),
    #[error("--api-base {0}: not an http(s) URL")]
    BadApiBase(String),
}

/// Where to sample.
#[derive(Debug, Clone, PartialEq)]
pub enum Area {
    BBox {
        west: f64,
        south: f64,
        east: f64,
        north: f64,
    },
    /// ISO 3166-1 alpha-2, upper case.
    Country(String),
}

impl Area {
    /// Parses `--bbox W,S,E,N`.
    pub fn parse_bbox(s: &str) -> Result<Area, MapillaryError> {
        let bad = || MapillaryError::BadBbox(s.to_string());
        let v: Vec<f64> = s
            .split(',')
            .map(|p| p.trim().parse::<f64>().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        let [west, south, east, north] = v[..] else {
            return Err(bad());
        };
        let lon_ok = |x: f64| (-180.0..=180.0).contains(&x);
        let lat_ok = |x: f64| (-90.0..=90.0).contains(&x);
        if !(lon_ok(west) && lon_ok(east) && lat_ok(south) && lat_ok(north))
            || west >= east
            || south >= north
        {
            return Err(bad());
        }
        Ok(Area::BBox {
            west,
            south,
            east,
            north,
        })
    }
}

/// What to import and from where.
pub struct MapillaryOptions {
    pub api_base: String,
    pub token: SecretString,
    /// The variable the token came from, named in errors.
    pub token_env: String,
    pub area: Area,
    /// Panoramas wanted (new ones; those already in the pack do not count).
    pub count: usize,
    /// Seeds the tile sampling, so the same command picks the same tiles.
    pub seed: u64,
}

#[derive(Debug, Deserialize)]
struct Page {
    #[serde(default)]
    data: Vec<ImageDoc>,
    #[serde(default)]
    paging: Option<Paging>,
}

#[derive(Debug, Deserialize)]
struct Paging {
    #[serde(default)]
    next: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct ImageDoc {
    id: String,
    #[serde(default)]
    computed_geometry: Option<Point>,
    #[serde(default)]
    geometry: Option<Point>,
    #[serde(default)]
    is_pano: Option<bool>,
    #[serde(default)]
    thumb_2048_url: Option<String>,
    #[serde(default)]
    creator: Option<Creator>,
}

#[derive(Debug, Clone, Deserialize)]
struct Point {
    /// GeoJSON order: longitude, latitude.
    coordinates: Vec<f64>,
}

#[derive(Debug, Clone, Deserialize)]
struct Creator {
    #[serde(default)]
    username: Option<String>,
}

impl ImageDoc {
    fn pos(&self) -> Option<LatLon> {
        [&self.computed_geometry, &self.geometry]
            .into_iter()
            .flatten()
            .find_map(|p| match p.coordinates[..] {
                [lon, lat, ..] => LatLon::new(lat, lon).ok(),
                _ => None,
            })
    }
}

/// A small box around which to query.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Tile {
    west: f64,
    south: f64,
    east: f64,
    north: f64,
}

impl Tile {
    fn around(p: LatLon) -> Tile {
        let h = TILE_DEG / 2.0;
        Tile {
            west: (p.lon - h).max(-180.0),
            south: (p.lat - h).max(-90.0),
            east: (p.lon + h).min(180.0),
            north: (p.lat + h).min(90.0),
        }
    }

    fn param(&self) -> String {
        format!(
            "{:.6},{:.6},{:.6},{:.6}",
            self.west, self.south, self.east, self.north
        )
    }

    fn contains(&self, p: LatLon) -> bool {
        (self.south..=self.north).contains(&p.lat) && (self.west..=self.east).contains(&p.lon)
    }
}

/// Picks query tiles inside the area.
enum Sampler {
    /// The whole box is one query.
    Single(Tile),
    /// Random tiles inside a box.
    Box(Tile),
    /// Random tiles centred in the country: cells (south-west corners, `step` degrees wide)
    /// inside its borders, from the offline boundaries.
    Country {
        code: String,
        cells: Vec<(f64, f64)>,
        step: f64,
    },
}

impl Sampler {
    fn new(area: &Area) -> Result<Sampler, MapillaryError> {
        match area {
            Area::BBox {
                west,
                south,
                east,
                north,
            } => {
                let t = Tile {
                    west: *west,
                    south: *south,
                    east: *east,
                    north: *north,
                };
                if (east - west) * (north - south) < MAX_QUERY_AREA_DEG2 {
                    Ok(Sampler::Single(t))
                } else {
                    Ok(Sampler::Box(t))
                }
            }
            Area::Country(code) => {
                let boundaries = country_boundaries::CountryBoundaries::from_reader(
                    country_boundaries::BOUNDARIES_ODBL_360X180,
                )
                .map_err(|_| MapillaryError::UnknownCountry(code.clone()))?;
                // 1° cells touching the country, then the finer cells whose centre is inside it
                // (so sampling does not waste draws on the sea or the neighbours). A country
                // smaller than a fine cell keeps its 1° cells.
                let mut coarse = Vec::new();
                for lat in -90..90 {
                    for lon in -180..180 {
                        let Ok(b) = country_boundaries::BoundingBox::new(
                            f64::from(lat),
                            f64::from(lon),
                            f64::from(lat + 1),
                            f64::from(lon + 1),
                        ) else {
                            continue;
                        };
                        if boundaries.intersecting_ids(b).contains(code.as_str()) {
                            coarse.push((f64::from(lat), f64::from(lon)));
                        }
                    }
                }
                let per_degree = (1.0 / COUNTRY_CELL_DEG).round() as u32;
                let mut cells = Vec::new();
                for &(lat, lon) in &coarse {
                    for i in 0..per_degree {
                        for j in 0..per_degree {
                            let (s, w) = (
                                lat + f64::from(i) * COUNTRY_CELL_DEG,
                                lon + f64::from(j) * COUNTRY_CELL_DEG,
                            );
                            let centre = country_boundaries::LatLon::new(
                                s + COUNTRY_CELL_DEG / 2.0,
                                w + COUNTRY_CELL_DEG / 2.0,
                            );
                            if centre.is_ok_and(|c| boundaries.is_in(c, code)) {
                                cells.push((s, w));
                            }
                        }
                    }
                }
                let step = if cells.is_empty() {
                    cells = coarse;
                    1.0
                } else {
                    COUNTRY_CELL_DEG
                };
                if cells.is_empty() {
                    return Err(MapillaryError::UnknownCountry(code.clone()));
                }
                Ok(Sampler::Country {
                    code: code.clone(),
                    cells,
                    step,
                })
            }
        }
    }

    /// The next tile to query; `None` for a single-query area after its one query. Country
    /// tiles are centred on a random point inside the country's borders.
    fn next(&self, rng: &mut ChaCha8Rng, first: bool) -> Option<Tile> {
        match self {
            Sampler::Single(t) => first.then_some(*t),
            Sampler::Box(b) => {
                let lat = rng.random_range(b.south..b.north);
                let lon = rng.random_range(b.west..b.east);
                let t = Tile::around(LatLon::new(lat, lon).ok()?);
                // Clamp to the box so nothing outside it is taken.
                Some(Tile {
                    west: t.west.max(b.west),
                    south: t.south.max(b.south),
                    east: t.east.min(b.east),
                    north: t.north.min(b.north),
                })
            }
            Sampler::Country { cells, step, .. } => {
                let (south, west) = cells[rng.random_range(0..cells.len())];
                let lat = (south + rng.random_range(0.0..*step)).clamp(-90.0, 90.0);
                let lon = (west + rng.random_range(0.0..*step)).clamp(-180.0, 180.0);
                Some(Tile::around(LatLon::new(lat, lon).ok()?))
            }
        }
    }

    fn accepts(&self, p: LatLon, tile: &Tile) -> bool {
        match self {
            Sampler::Country { code, .. } => {
                tile.contains(p) && reverse::country(p).as_deref() == Some(code.as_str())
            }
            _ => tile.contains(p),
        }
    }
}

/// An HTTP client for the API that never lets the token out.
struct Api {
    http: reqwest::Client,
    base: Url,
    auth: HeaderValue,
    token: SecretString,
    token_env: String,
}

impl Api {
    fn new(o: &MapillaryOptions) -> Result<Api, MapillaryError> {
        let base = Url::parse(o.api_base.trim_end_matches('/'))
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| MapillaryError::BadApiBase(o.api_base.clone()))?;
        let token = o.token.expose_secret().trim();
        if token.is_empty() {
            return Err(MapillaryError::NoToken {
                var: o.token_env.clone(),
            });
        }
        let mut auth = HeaderValue::from_str(&format!("OAuth {token}")).map_err(|_| {
            MapillaryError::NoToken {
                var: o.token_env.clone(),
            }
        })?;
        auth.set_sensitive(true);
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| MapillaryError::Network {
                what: "HTTP client".into(),
                detail: e.to_string(),
            })?;
        Ok(Api {
            http,
            base,
            auth,
            token: o.token.clone(),
            token_env: o.token_env.clone(),
        })
    }

    /// Removes the token from any text that might quote it (an echoing proxy, a URL).
    fn redact(&self, text: &str) -> String {
        let t = self.token.expose_secret().trim();
        let mut s = if t.is_empty() {
            text.to_string()
        } else {
            text.replace(t, "[token]")
        };
        if s.chars().count() > MAX_QUOTED_CHARS {
            s = s.chars().take(MAX_QUOTED_CHARS).collect::<String>() + "...";
        }
        s
    }

    fn same_origin(&self, u: &Url) -> bool {
        u.origin() == self.base.origin()
    }

    fn search_url(&self, tile: &Tile, limit: usize) -> Result<Url, MapillaryError> {
        let mut u = Url::parse(&format!(
            "{}/images",
            self.base.as_str().trim_end_matches('/')
        ))
        .map_err(|_| MapillaryError::BadApiBase(self.base.to_string()))?;
        u.query_pairs_mut()
            .append_pair("fields", IMAGE_FIELDS)
            .append_pair("bbox", &tile.param())
            .append_pair("is_pano", "true")
            .append_pair("limit", &limit.to_string());
        Ok(u)
    }

    /// GET with rate-limit retries. Sends the token only to the API's own origin.
    async fn get(&self, url: &Url, what: &str) -> Result<reqwest::Response, MapillaryError> {
        let mut retries = 0;
        loop {
            let mut req = self.http.get(url.clone());
            if self.same_origin(url) {
                req = req.header(AUTHORIZATION, self.auth.clone());
            }
            let resp = req.send().await.map_err(|e| MapillaryError::Network {
                what: what.to_string(),
                detail: self.redact(&e.without_url().to_string()),
            })?;
            let status = resp.status();
            if status == StatusCode::TOO_MANY_REQUESTS {
                if retries >= MAX_RATE_LIMIT_RETRIES {
                    return Err(MapillaryError::RateLimited { retries });
                }
                let wait = crate::net::retry_after(resp.headers())
                    .unwrap_or(RATE_LIMIT_BASE_WAIT * 2u32.pow(retries))
                    .min(MAX_RATE_LIMIT_WAIT);
                tracing::warn!(
                    "Mapillary rate limit (429) on {what}; retrying in {:.1} s",
                    wait.as_secs_f64()
                );
                tokio::time::sleep(wait).await;
                retries += 1;
                continue;
            }
            if status.is_success() {
                return Ok(resp);
            }
            let body = resp.text().await.unwrap_or_default();
            let detail = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
                .unwrap_or(body);
            let detail = self.redact(&detail);
            return Err(
                // Only the API judges the token; a CDN 403 is an expired image link.
                if self.same_origin(url)
                    && (status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN)
                {
                    MapillaryError::Unauthorized {
                        status: status.as_u16(),
                        detail,
                        var: self.token_env.clone(),
                    }
                } else {
                    MapillaryError::Http {
                        status: status.as_u16(),
                        what: what.to_string(),
                        detail,
                    }
                },
            );
        }
    }

    async fn search(&self, url: &Url) -> Result<Page, MapillaryError> {
        let what = "image search";
        let text =
            self.get(url, what)
                .await?
                .text()
                .await
                .map_err(|e| MapillaryError::Network {
                    what: what.into(),
                    detail: self.redact(&e.without_url().to_string()),
                })?;
        serde_json::from_str(&text).map_err(|e| MapillaryError::BadResponse {
            what: what.into(),
            detail: e.to_string(),
        })
    }

    /// Downloads an image (no token: image URLs are pre-signed CDN links), at most
    /// [`integrity::MAX_IMAGE_FILE_BYTES`].
    async fn download(&self, url: &str, id: &str) -> Result<Vec<u8>, String> {
        let u = Url::parse(url).map_err(|_| format!("image URL '{url}' is not a URL"))?;
        let what = format!("image {id}");
        let mut resp = self.get(&u, &what).await.map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| self.redact(&e.without_url().to_string()))?
        {
            out.extend_from_slice(&chunk);
            if out.len() as u64 > integrity::MAX_IMAGE_FILE_BYTES {
                return Err(format!(
                    "download is larger than {} bytes",
                    integrity::MAX_IMAGE_FILE_BYTES
                ));
            }
        }
        Ok(out)
    }
}

/// The attribution CC BY-SA asks for: author, source and licence.
fn attribution(doc: &ImageDoc) -> String {
    let who = doc
        .creator
        .as_ref()
        .and_then(|c| c.username.as_deref())
        .filter(|u| !u.is_empty())
        .unwrap_or("unknown contributor");
    format!(
        "© {who}, Mapillary image {} (https://www.mapillary.com/app/?pKey={}), {LICENSE}",
        doc.id, doc.id
    )
}

/// Samples and imports up to `o.count` new panoramas.
pub async fn import_mapillary(
    o: &MapillaryOptions,
    mut imp: Importer,
) -> Result<ImportReport, ImportError> {
    let api = Api::new(o)?;
    let sampler = Sampler::new(&o.area)?;
    let mut rng = ChaCha8Rng::seed_from_u64(o.seed);
    let max_queries = o.count.saturating_mul(MAX_TILE_TRIES_PER_IMAGE).max(1);
    let mut added = 0;
    let mut queries = 0;
    let single = matches!(sampler, Sampler::Single(_));
    let mut next_page: Option<Url> = None;
    while added < o.count && queries < max_queries {
        let (url, tile) = if let Some(u) = next_page.take() {
            let Sampler::Single(t) = &sampler else { break };
            (u, *t)
        } else {
            let Some(tile) = sampler.next(&mut rng, queries == 0) else {
                break;
            };
            let limit = if single {
                SINGLE_QUERY_LIMIT
            } else {
                TILE_LIMIT
            };
            (api.search_url(&tile, limit)?, tile)
        };
        queries += 1;
        let page = api.search(&url).await?;
        let mut found: Vec<(ImageDoc, LatLon)> = page
            .data
            .into_iter()
            .filter(|d| d.is_pano != Some(false) && d.thumb_2048_url.is_some())
            .filter_map(|d| d.pos().map(|p| (d, p)))
            .filter(|(_, p)| sampler.accepts(*p, &tile))
            .collect();
        // Random order, so a tile's pick is not always its first (often oldest) image.
        for i in (1..found.len()).rev() {
            found.swap(i, rng.random_range(0..=i));
        }
        // Tiles give one panorama each (spread); a single box gives as many as wanted.
        let per_query = if single { o.count } else { 1 };
        let mut taken = 0;
        for (doc, pos) in found {
            if added >= o.count || taken >= per_query {
                break;
            }
            let source = format!("Mapillary image {}", doc.id);
            if imp.writer.contains(&doc.id) {
                continue;
            }
            if !imp.claim(&source, &doc.id) {
                continue;
            }
            let Some(thumb) = doc.thumb_2048_url.clone() else {
                continue;
            };
            let bytes = match api.download(&thumb, &doc.id).await {
                Ok(b) => b,
                Err(e) => {
                    imp.problem(&source, e);
                    continue;
                }
            };
            let c = NewLocation {
                id: doc.id.clone(),
                pos,
                attribution: Some(attribution(&doc)),
                photo: Some(false),
            };
            let path = std::path::PathBuf::from(format!("mapillary-{}.jpg", doc.id));
            if imp.add(&source, c, &path, &bytes)? {
                added += 1;
                taken += 1;
            }
        }
        if single {
            next_page = page
                .paging
                .and_then(|p| p.next)
                .and_then(|n| Url::parse(&n).ok())
                .filter(|u| api.same_origin(u));
            if next_page.is_none() {
                break;
            }
        }
    }
    if added < o.count {
        imp.problem(
            "Mapillary",
            format!(
                "found {added} of {} panoramas wanted after {queries} search(es); the area has \
                 little 360° coverage, try a larger or busier one",
                o.count
            ),
        );
    }
    Ok(imp.report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bbox_parsing_names_the_flag() {
        assert_eq!(
            Area::parse_bbox("7.7,45.98,7.8,46.05").unwrap(),
            Area::BBox {
                west: 7.7,
                south: 45.98,
                east: 7.8,
                north: 46.05
            }
        );
        for bad in ["1,2,3", "8,45,7,46", "a,b,c,d", "0,95,1,96", "1,2,3,4,5"] {
            let e = Area::parse_bbox(bad).unwrap_err().to_string();
            assert!(e.starts_with("--bbox"), "{e}");
        }
    }

    #[test]
    fn small_boxes_are_one_query_large_ones_are_tiled() {
        let small = Area::parse_bbox("7.70,45.98,7.78,46.05").unwrap();
        assert!(matches!(Sampler::new(&small).unwrap(), Sampler::Single(_)));
        let big = Area::parse_bbox("5,45,10,48").unwrap();
        let s = Sampler::new(&big).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..50 {
            let t = s.next(&mut rng, false).unwrap();
            assert!(t.west >= 5.0 && t.east <= 10.0 && t.south >= 45.0 && t.north <= 48.0);
            assert!((t.east - t.west) * (t.north - t.south) < MAX_QUERY_AREA_DEG2);
        }
    }

    #[test]
    fn country_tiles_fall_inside_the_country() {
        let s = Sampler::new(&Area::Country("CH".into())).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        // Centres fall in cells whose centre is Swiss: near the border a few land abroad.
        let inside = (0..100)
            .filter(|_| {
                let t = s.next(&mut rng, false).unwrap();
                let c = LatLon::new((t.south + t.north) / 2.0, (t.west + t.east) / 2.0).unwrap();
                reverse::country(c).as_deref() == Some("CH")
            })
            .count();
        assert!(inside >= 85, "{inside}");
        // A country smaller than a cell still gets tiles.
        let mc = Sampler::new(&Area::Country("MC".into())).unwrap();
        let t = mc.next(&mut rng, false).unwrap();
        assert!(
            (43.0..45.0).contains(&t.south) && (6.5..8.5).contains(&t.west),
            "{t:?}"
        );
        assert!(matches!(
            Sampler::new(&Area::Country("QQ".into())),
            Err(MapillaryError::UnknownCountry(_))
        ));
    }

    #[test]
    fn attribution_names_author_id_and_licence() {
        let doc: ImageDoc = serde_json::from_str(
            r#"{"id":"42","creator":{"username":"alice","id":"7"},"is_pano":true}"#,
        )
        .unwrap();
        let a = attribution(&doc);
        assert!(
            a.contains("alice") && a.contains("42") && a.contains("CC BY-SA 4.0"),
            "{a}"
        );
    }
}
