//! The Mapillary importer against local 127.0.0.1 servers replaying the Graph API v4's documented
//! shapes: `GET /images?fields=...&bbox=...&is_pano=true&limit=N` with `Authorization: OAuth
//! TOKEN` answering `{"data":[...],"paging":{...}}`, `{"error":{...}}` with 401, and 429 with
//! `Retry-After`. Images come from a second server (another origin, like Mapillary's CDN), which
//! must never see the token.

mod map_common;

use axum::extract::{Path as AxPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use geoagent::game::integrity;
use geoagent::game::pack::{self, PackManifest, PackWriter};
use geoagent::game::Imagery;
use geoagent::import::mapillary::{
    import_mapillary, Area, MapillaryOptions, IMAGE_FIELDS, MAX_QUERY_AREA_DEG2,
};
use geoagent::import::{ImportError, Importer};
use map_common::*;
use secrecy::SecretString;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

const TOKEN: &str = "MLY|4242|s3cr3t-t0ken-never-shown";

#[derive(Clone, Debug)]
struct Seen {
    path: String,
    query: HashMap<String, String>,
    auth: Option<String>,
}

type Reply = (u16, Vec<(&'static str, String)>, String);
type DefaultFn = Box<dyn Fn(&HashMap<String, String>) -> Reply + Send + Sync>;

struct Shared {
    script: Mutex<VecDeque<Reply>>,
    default: Mutex<Option<DefaultFn>>,
    seen: Mutex<Vec<Seen>>,
    images: Mutex<HashMap<String, Vec<u8>>>,
}

struct Server {
    url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn record(s: &Shared, path: String, query: HashMap<String, String>, headers: &HeaderMap) {
    s.seen.lock().unwrap().push(Seen {
        path,
        query,
        auth: headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_string()),
    });
}

async fn images(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    record(&s, "/images".into(), q.clone(), &headers);
    let scripted = s.script.lock().unwrap().pop_front();
    let (status, hdrs, body) = match scripted {
        Some(r) => r,
        None => match s.default.lock().unwrap().as_ref() {
            Some(f) => f(&q),
            None => (200, vec![], json!({"data": []}).to_string()),
        },
    };
    let mut resp = (StatusCode::from_u16(status).unwrap(), body).into_response();
    resp.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    for (k, v) in hdrs {
        resp.headers_mut().insert(k, v.parse().unwrap());
    }
    resp
}

async fn cdn(
    State(s): State<Arc<Shared>>,
    AxPath(file): AxPath<String>,
    headers: HeaderMap,
) -> Response {
    record(&s, format!("/cdn/{file}"), HashMap::new(), &headers);
    match s.images.lock().unwrap().get(&file) {
        Some(b) => ([("content-type", "image/jpeg")], b.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, "no such image").into_response(),
    }
}

async fn start() -> Server {
    let shared = Arc::new(Shared {
        script: Mutex::new(VecDeque::new()),
        default: Mutex::new(None),
        seen: Mutex::new(Vec::new()),
        images: Mutex::new(HashMap::new()),
    });
    let app = Router::new()
        .route("/images", get(images))
        .route("/cdn/{file}", get(cdn))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Server {
        url: format!("http://{addr}"),
        shared,
        task,
    }
}

impl Server {
    fn push(&self, r: Reply) {
        self.shared.script.lock().unwrap().push_back(r);
    }
    fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }
    fn image(&self, name: &str, bytes: Vec<u8>) -> String {
        self.shared
            .images
            .lock()
            .unwrap()
            .insert(name.into(), bytes);
        format!("{}/cdn/{name}", self.url)
    }
}

fn doc(id: &str, lat: f64, lon: f64, pano: bool, thumb: Option<&str>, user: &str) -> Value {
    json!({
        "id": id,
        "computed_geometry": {"type": "Point", "coordinates": [lon, lat]},
        "geometry": {"type": "Point", "coordinates": [lon + 0.0001, lat + 0.0001]},
        "is_pano": pano,
        "thumb_2048_url": thumb,
        "creator": {"username": user, "id": "1000"},
        "captured_at": 1_600_000_000_000u64
    })
}

fn opts(api: &Server, area: Area, count: usize) -> MapillaryOptions {
    MapillaryOptions {
        api_base: api.url.clone(),
        token: SecretString::from(TOKEN.to_string()),
        token_env: "MAPILLARY_TOKEN".into(),
        area,
        count,
        seed: 7,
    }
}

fn importer(out: &Path) -> Importer {
    Importer::new(PackWriter::open(out, PackManifest::new("mly", "Mapillary test", None)).unwrap())
}

fn assert_no_token_in(dir: &Path) {
    for f in files(dir) {
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
            "token in {f:?}"
        );
    }
}

const ZERMATT_BBOX: &str = "7.70,45.98,7.78,46.05";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_panoramas_with_attribution_and_never_leaks_the_token() {
    let (api, cdn) = (start().await, start().await);
    let a = cdn.image("a.jpg", with_gps(&jpeg(&scene(512, 256, 61)), 46.02, 7.75));
    let b = cdn.image("b.jpg", jpeg(&scene(512, 256, 62)));
    let bad = cdn.image("bad.jpg", corrupt(&jpeg(&scene(64, 32, 63))));
    let page = json!({
        "data": [
            doc("1001", 46.0200, 7.7500, true, Some(&a), "alice"),
            doc("1002", 46.0100, 7.7200, true, Some(&b), "bob"),
            doc("1003", 46.0150, 7.7300, false, Some(&b), "flat"),
            doc("1004", 46.0150, 7.7300, true, None, "nothumb"),
            doc("1005", 47.5000, 8.5000, true, Some(&b), "outside"),
            doc("1006", 46.0300, 7.7400, true, Some(&bad), "broken"),
        ],
        // A next page on another origin must not get the token: not followed.
        "paging": {"cursors": {"before": "x", "after": "y"}, "next": format!("{}/images?after=y", cdn.url)}
    });
    api.push((200, vec![], page.to_string()));
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("mly");
    let area = Area::parse_bbox(ZERMATT_BBOX).unwrap();
    let r = import_mapillary(&opts(&api, area.clone(), 5), importer(&out))
        .await
        .unwrap();
    let mut got = r.imported.clone();
    got.sort();
    assert_eq!(got, ["1001", "1002"], "{r}");
    assert_eq!(r.photos, 0);
    let msgs = r.to_string();
    assert!(
        msgs.contains("Mapillary image 1006") && msgs.contains("not a readable"),
        "{msgs}"
    );
    assert!(msgs.contains("found 2 of 5"), "{msgs}");

    // The request had the documented shape and the token only went to the API.
    let seen = api.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let q = &seen[0].query;
    assert_eq!(q["fields"], IMAGE_FIELDS);
    assert_eq!(q["is_pano"], "true");
    assert_eq!(q["bbox"], "7.700000,45.980000,7.780000,46.050000");
    assert!(q["limit"].parse::<usize>().unwrap() >= 5);
    assert_eq!(
        seen[0].auth.as_deref(),
        Some(format!("OAuth {TOKEN}").as_str())
    );
    let cdn_seen = cdn.seen();
    assert!(!cdn_seen.is_empty());
    assert!(cdn_seen.iter().all(|s| s.auth.is_none()), "{cdn_seen:?}");
    assert!(
        cdn_seen.iter().all(|s| s.path.starts_with("/cdn/")),
        "next page was followed"
    );

    // The pack: panoramas at the computed positions, attribution per image, clean files.
    let c = pack::read_pack(&out).unwrap();
    let row = c.rows.iter().find(|r| r.location.id == "1001").unwrap();
    assert!(
        (row.location.pos.lat - 46.02).abs() < 1e-9 && (row.location.pos.lon - 7.75).abs() < 1e-9
    );
    assert!(matches!(row.location.imagery, Imagery::File { .. }));
    assert_eq!(row.location.country.as_deref(), Some("CH"));
    let attr = row.attribution.as_deref().unwrap();
    assert!(
        attr.contains("alice") && attr.contains("1001") && attr.contains("CC BY-SA 4.0"),
        "{attr}"
    );
    let bytes = std::fs::read(row.location.imagery.path().unwrap()).unwrap();
    assert!(integrity::jpeg_metadata(&bytes).is_empty() && exif_gps(&bytes).is_none());
    assert_no_token_in(&out);

    // Re-running keeps both and adds only what is new.
    let c_page = cdn.image("c.jpg", jpeg(&scene(512, 256, 64)));
    api.push((
        200,
        vec![],
        json!({"data": [
            doc("1001", 46.02, 7.75, true, Some(&a), "alice"),
            doc("1007", 46.04, 7.71, true, Some(&c_page), "carol"),
        ]})
        .to_string(),
    ));
    let r2 = import_mapillary(&opts(&api, area, 1), importer(&out))
        .await
        .unwrap();
    assert_eq!(r2.imported, ["1007"], "{r2}");
    assert_eq!(pack::load_pack(&out).unwrap().locations.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_retried_then_reported() {
    let (api, cdn) = (start().await, start().await);
    let a = cdn.image("a.jpg", jpeg(&scene(512, 256, 71)));
    api.push((
        429,
        vec![("retry-after", "0".into())],
        json!({"error": {"message": "Application request limit reached", "code": 4}}).to_string(),
    ));
    api.push((
        200,
        vec![],
        json!({"data": [doc("2001", 46.0, 7.75, true, Some(&a), "dora")]}).to_string(),
    ));
    let t = tempfile::tempdir().unwrap();
    let area = Area::parse_bbox(ZERMATT_BBOX).unwrap();
    let r = import_mapillary(&opts(&api, area.clone(), 1), importer(&t.path().join("a")))
        .await
        .unwrap();
    assert_eq!(r.imported, ["2001"], "{r}");
    assert_eq!(api.seen().len(), 2);

    // Always 429: a clear error after the retries, and what was imported before stays.
    for _ in 0..10 {
        api.push((429, vec![("retry-after", "0".into())], "{}".into()));
    }
    let e = import_mapillary(&opts(&api, area, 1), importer(&t.path().join("b")))
        .await
        .unwrap_err();
    assert!(matches!(e, ImportError::Mapillary(_)), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("429") && msg.contains("re-run"), "{msg}");
    assert_eq!(api.seen().len(), 2 + 5, "1 try + 4 retries");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_is_named_but_never_shown() {
    let api = start().await;
    // The error echoes the token, as a misbehaving proxy might: it must be redacted.
    api.push((
        401,
        vec![],
        json!({"error": {"message": format!("Invalid OAuth access token {TOKEN}"), "type": "OAuthException", "code": 190, "fbtrace_id": "abc"}}).to_string(),
    ));
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("mly");
    let e = import_mapillary(
        &opts(&api, Area::parse_bbox(ZERMATT_BBOX).unwrap(), 3),
        importer(&out),
    )
    .await
    .unwrap_err();
    let msg = e.to_string();
    let dbg = format!("{e:?}");
    assert!(
        msg.contains("401") && msg.contains("MAPILLARY_TOKEN") && msg.contains("Invalid OAuth"),
        "{msg}"
    );
    assert!(
        !msg.contains(TOKEN) && !dbg.contains(TOKEN),
        "{msg} / {dbg}"
    );
    assert!(!msg.contains("s3cr3t"), "{msg}");
    assert_no_token_in(&out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_country_is_sampled_in_small_tiles_inside_its_borders() {
    let (api, cdn) = (start().await, start().await);
    let img = cdn.image("p.jpg", jpeg(&scene(512, 256, 81)));
    let n = Arc::new(Mutex::new(0u32));
    let counter = n.clone();
    // Every tile has one panorama at its centre.
    *api.shared.default.lock().unwrap() = Some(Box::new(move |q: &HashMap<String, String>| {
        let b: Vec<f64> = q["bbox"].split(',').map(|x| x.parse().unwrap()).collect();
        let mut k = counter.lock().unwrap();
        *k += 1;
        let (lat, lon) = ((b[1] + b[3]) / 2.0, (b[0] + b[2]) / 2.0);
        (
            200,
            vec![],
            json!({"data": [doc(&format!("30{k:02}"), lat, lon, true, Some(&img), "eve")]})
                .to_string(),
        )
    }));
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("ch");
    let r = import_mapillary(&opts(&api, Area::Country("CH".into()), 4), importer(&out))
        .await
        .unwrap();
    assert_eq!(r.imported.len(), 4, "{r}");
    for s in api.seen() {
        let b: Vec<f64> = s.query["bbox"]
            .split(',')
            .map(|x| x.parse().unwrap())
            .collect();
        assert!((b[2] - b[0]) * (b[3] - b[1]) < MAX_QUERY_AREA_DEG2, "{b:?}");
    }
    let map = pack::load_pack(&out).unwrap();
    assert!(
        map.locations
            .iter()
            .all(|l| l.country.as_deref() == Some("CH")),
        "{:?}",
        map.locations
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_reads_the_token_from_the_environment_and_prints_none_of_it() {
    let (api, cdn) = (start().await, start().await);
    let a = cdn.image("a.jpg", jpeg(&scene(512, 256, 91)));
    api.push((
        200,
        vec![],
        json!({"data": [doc("4001", 46.0, 7.75, true, Some(&a), "fay")]}).to_string(),
    ));
    let t = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_geoagent"))
        .args([
            "-vv",
            "map",
            "import",
            "mapillary",
            "--bbox",
            ZERMATT_BBOX,
            "--count",
            "1",
            "--token-env",
            "MLY_TEST_TOKEN",
            "--api-base",
            &api.url,
            "-o",
            "maps/zermatt",
        ])
        .env("MLY_TEST_TOKEN", TOKEN)
        .current_dir(t.path())
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("imported 1"), "{text}");
    let manifest = pack::read_manifest(&t.path().join("maps/zermatt")).unwrap();
    assert!(manifest
        .attribution
        .unwrap()
        .contains("Mapillary contributors, CC BY-SA 4.0"));
    assert!(!text.contains(TOKEN) && !text.contains("s3cr3t"), "{text}");
    assert_no_token_in(&t.path().join("maps/zermatt"));

    // Without the variable: a clear error naming it.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_geoagent"))
        .args([
            "map",
            "import",
            "mapillary",
            "--country",
            "CH",
            "--token-env",
            "MLY_TEST_NONE",
            "-o",
            "maps/x",
        ])
        .env_remove("MLY_TEST_NONE")
        .current_dir(t.path())
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(text.contains("MLY_TEST_NONE is not set"), "{text}");
}
