//! The reference index for retrieval-augmented guessing (the `rag` strategy): one embedding per
//! geotagged reference picture, stored on disk, searched exactly for the k most and k least
//! similar references to a round's views.
//!
//! # Storage
//! One [safetensors](https://huggingface.co/docs/safetensors) file: tensor `embeddings`
//! (`F32`, `[n, dim]`, each row L2-normalised), tensor `coords` (`F64`, `[n, 2]`, latitude and
//! longitude), and string metadata (format version, embedder, dimension, the ids of the maps the
//! references came from). A flat matrix is what an exact search streams through, safetensors is a
//! small, widely used, pure-Rust format with a documented layout (readable from Python with
//! `safetensors.numpy.load_file`), and its header carries the metadata without a sidecar file.
//!
//! # Search
//! Exact: cosine similarity (a dot product of unit vectors) against every row, in parallel over
//! [`SEARCH_THREADS`] contiguous chunks, each keeping its own k best and k worst, then merged.
//! Exact search has no recall to tune and no build step beyond writing the matrix; at a million
//! references × 139 dimensions it takes ~60-75 ms per query on 2 cores (memory-bound; see
//! `benches/index_search.rs`).
//!
//! # Fairness
//! An index must be built from a **different** set of references than the map being played: the
//! agent must never retrieve the round's own location. `index build` records its source map ids
//! and the `rag` strategy refuses to play a map that is among them.

pub mod descriptor;
pub mod embed;

use crate::fsio::FillError;
use crate::geo::LatLon;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Bumped when the file layout changes; older files are refused with a message to rebuild.
pub(crate) const INDEX_FORMAT_VERSION: u32 = 1;
/// Threads one search uses: the development and CI machines have 2 cores, and the search is
/// memory-bound, so more threads than cores only add scheduling.
pub const SEARCH_THREADS: usize = 2;
/// Below this many rows a search runs on the calling thread: spawning costs more than it saves.
pub const PARALLEL_MIN_ROWS: usize = 16_384;
/// Most neighbours a query may ask for on each side: the prompt lists them all, and beyond a few
/// dozen coordinates a model reads noise.
pub(crate) const MAX_K: usize = 100;

const EMBEDDINGS: &str = "embeddings";
const COORDS: &str = "coords";

/// Why an index cannot be built, saved, loaded or searched. Messages name the file or value to fix.
#[derive(Debug, Error)]
pub enum IndexError {
    #[error("reference index {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("reference index {path} is not a valid index file: {detail} (rebuild it with `geoagent index build`)")]
    Format { path: PathBuf, detail: String },
    #[error("reference index {path} has format version {found}, this build reads {INDEX_FORMAT_VERSION}; rebuild it with `geoagent index build`")]
    Version { path: PathBuf, found: String },
    #[error("embedding {row} has {found} values, the index uses {expected}")]
    Dimension {
        row: usize,
        expected: usize,
        found: usize,
    },
    #[error("embedding {row} is zero or not finite; an embedding must be a non-zero vector")]
    BadVector { row: usize },
    #[error("k = {0} neighbours asked for; use 1..={MAX_K}")]
    BadK(usize),
    #[error("the index is empty: no references to search")]
    Empty,
}

/// What an index was built from, kept in the file's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexMeta {
    /// Which embedder produced the vectors ("builtin:descriptor-v1", "http:clip-vit-b-32"). A
    /// query must be embedded by the same one.
    pub embedder: String,
    /// Ids of the maps the references came from (the `rag` strategy's fairness check).
    pub sources: Vec<String>,
}

/// One retrieved reference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbour {
    /// Row in the index.
    pub row: usize,
    pub pos: LatLon,
    /// Cosine similarity to the query, -1..=1.
    pub similarity: f32,
}

/// The k most and k least similar references.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Retrieved {
    /// Most similar first.
    pub near: Vec<Neighbour>,
    /// Least similar first.
    pub far: Vec<Neighbour>,
}

/// An in-memory reference index.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceIndex {
    meta: IndexMeta,
    dim: usize,
    /// Row-major `[n, dim]`, rows unit length.
    vectors: Vec<f32>,
    coords: Vec<LatLon>,
}

/// Scales `v` to unit length; `None` when it is zero or holds a non-finite value.
pub fn normalise(v: &mut [f32]) -> Option<()> {
    let norm = v.iter().map(|x| f64::from(*x) * f64::from(*x)).sum::<f64>();
    if !norm.is_finite() || norm <= 0.0 {
        return None;
    }
    let inv = (1.0 / norm.sqrt()) as f32;
    v.iter_mut().for_each(|x| *x *= inv);
    Some(())
}

/// Dot product, written with eight independent accumulators so the compiler vectorises it.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 8;
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += x[i] * y[i];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for (x, y) in ra.iter().zip(rb) {
        s += x * y;
    }
    s
}

/// A bounded list of the `k` best `(score, row)` pairs, best first; ties go to the lower row so
/// results do not depend on how rows were split between threads.
#[derive(Debug, Clone)]
struct TopK {
    k: usize,
    items: Vec<(f32, usize)>,
}

impl TopK {
    fn new(k: usize) -> Self {
        Self {
            k,
            items: Vec::with_capacity(k + 1),
        }
    }

    fn better(a: (f32, usize), b: (f32, usize)) -> bool {
        a.0 > b.0 || (a.0 == b.0 && a.1 < b.1)
    }

    #[inline]
    fn offer(&mut self, score: f32, row: usize) {
        if self.items.len() == self.k {
            let worst = self.items[self.k - 1];
            if !Self::better((score, row), worst) {
                return;
            }
            self.items.pop();
        }
        let at = self
            .items
            .iter()
            .position(|&it| Self::better((score, row), it))
            .unwrap_or(self.items.len());
        self.items.insert(at, (score, row));
    }
}

impl ReferenceIndex {
    /// An index over `refs` (embedding, position); every embedding is normalised here.
    pub fn from_vectors(
        meta: IndexMeta,
        dim: usize,
        refs: impl IntoIterator<Item = (Vec<f32>, LatLon)>,
    ) -> Result<ReferenceIndex, IndexError> {
        let mut vectors = Vec::new();
        let mut coords = Vec::new();
        for (row, (mut v, pos)) in refs.into_iter().enumerate() {
            if v.len() != dim {
                return Err(IndexError::Dimension {
                    row,
                    expected: dim,
                    found: v.len(),
                });
            }
            normalise(&mut v).ok_or(IndexError::BadVector { row })?;
            vectors.extend_from_slice(&v);
            coords.push(pos);
        }
        Ok(ReferenceIndex {
            meta,
            dim,
            vectors,
            coords,
        })
    }

    pub fn meta(&self) -> &IndexMeta {
        &self.meta
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn len(&self) -> usize {
        self.coords.len()
    }

    pub fn is_empty(&self) -> bool {
        self.coords.is_empty()
    }

    /// Row `i`'s unit embedding.
    pub fn vector(&self, i: usize) -> &[f32] {
        &self.vectors[i * self.dim..(i + 1) * self.dim]
    }

    pub fn position(&self, i: usize) -> LatLon {
        self.coords[i]
    }

    /// The `k` most and `k` least similar references to `query` (normalised here), exactly.
    pub fn search(&self, query: &[f32], k: usize) -> Result<Retrieved, IndexError> {
        if k == 0 || k > MAX_K {
            return Err(IndexError::BadK(k));
        }
        if query.len() != self.dim {
            return Err(IndexError::Dimension {
                row: 0,
                expected: self.dim,
                found: query.len(),
            });
        }
        if self.is_empty() {
            return Err(IndexError::Empty);
        }
        let mut q = query.to_vec();
        normalise(&mut q).ok_or(IndexError::BadVector { row: 0 })?;
        let n = self.len();
        let threads = if n < PARALLEL_MIN_ROWS {
            1
        } else {
            SEARCH_THREADS
        };
        let per = n.div_ceil(threads);
        let scan = |start: usize, end: usize| {
            let mut near = TopK::new(k);
            // The farthest are the best by negated similarity.
            let mut far = TopK::new(k);
            for row in start..end {
                let s = dot(&q, self.vector(row));
                near.offer(s, row);
                far.offer(-s, row);
            }
            (near, far)
        };
        let parts: Vec<(TopK, TopK)> = if threads == 1 {
            vec![scan(0, n)]
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..threads)
                    .map(|t| {
                        let (start, end) = (t * per, ((t + 1) * per).min(n));
                        scope.spawn(move || scan(start, end))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| match h.join() {
                        Ok(r) => r,
                        // A panic in a scan is a bug in this module; surface it where it happened.
                        Err(p) => std::panic::resume_unwind(p),
                    })
                    .collect()
            })
        };
        let mut near = TopK::new(k);
        let mut far = TopK::new(k);
        for (a, b) in parts {
            a.items.into_iter().for_each(|(s, r)| near.offer(s, r));
            b.items.into_iter().for_each(|(s, r)| far.offer(s, r));
        }
        let out = |items: Vec<(f32, usize)>, sign: f32| {
            items
                .into_iter()
                .map(|(s, row)| Neighbour {
                    row,
                    pos: self.coords[row],
                    similarity: s * sign,
                })
                .collect()
        };
        Ok(Retrieved {
            near: out(near.items, 1.0),
            far: out(far.items, -1.0),
        })
    }

    /// Writes the index to `path` (through a temporary file in the same folder, so a crash never
    /// leaves half an index behind).
    pub fn save(&self, path: &Path) -> Result<(), IndexError> {
        let io = |source| IndexError::Io {
            path: path.to_path_buf(),
            source,
        };
        let fmt = |e: safetensors::SafeTensorError| IndexError::Format {
            path: path.to_path_buf(),
            detail: e.to_string(),
        };
        let vec_bytes: Vec<u8> = self.vectors.iter().flat_map(|x| x.to_le_bytes()).collect();
        let coord_bytes: Vec<u8> = self
            .coords
            .iter()
            .flat_map(|c| [c.lat, c.lon])
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let n = self.len();
        let tensors = vec![
            (
                EMBEDDINGS,
                TensorView::new(Dtype::F32, vec![n, self.dim], &vec_bytes).map_err(fmt)?,
            ),
            (
                COORDS,
                TensorView::new(Dtype::F64, vec![n, 2], &coord_bytes).map_err(fmt)?,
            ),
        ];
        let sources =
            serde_json::to_string(&self.meta.sources).map_err(|e| IndexError::Format {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })?;
        let meta = HashMap::from([
            (
                "format_version".to_string(),
                INDEX_FORMAT_VERSION.to_string(),
            ),
            ("embedder".to_string(), self.meta.embedder.clone()),
            ("sources".to_string(), sources),
        ]);
        // Streamed to the file: an index can be hundreds of MB, not worth a second copy in memory.
        crate::fsio::write_atomic_with(path, |tmp| {
            safetensors::serialize_to_file(tensors, Some(meta), tmp)
        })
        .map_err(|e| match e {
            FillError::Io(e) => io(e),
            FillError::Fill(e) => fmt(e),
        })
    }

    /// Reads an index written by [`save`](Self::save).
    pub fn load(path: &Path) -> Result<ReferenceIndex, IndexError> {
        let bytes = std::fs::read(path).map_err(|source| IndexError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let bad = |detail: String| IndexError::Format {
            path: path.to_path_buf(),
            detail,
        };
        let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
        let info = header.metadata().clone().unwrap_or_default();
        let version = info.get("format_version").cloned().unwrap_or_default();
        if version != INDEX_FORMAT_VERSION.to_string() {
            return Err(IndexError::Version {
                path: path.to_path_buf(),
                found: if version.is_empty() {
                    "none".into()
                } else {
                    version
                },
            });
        }
        let embedder = info
            .get("embedder")
            .cloned()
            .ok_or_else(|| bad("no `embedder` in the header".into()))?;
        let sources: Vec<String> = serde_json::from_str(
            info.get("sources")
                .ok_or_else(|| bad("no `sources` in the header".into()))?,
        )
        .map_err(|e| bad(format!("`sources` is not a JSON list of map ids: {e}")))?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
        let emb = st
            .tensor(EMBEDDINGS)
            .map_err(|e| bad(format!("tensor `{EMBEDDINGS}`: {e}")))?;
        let crd = st
            .tensor(COORDS)
            .map_err(|e| bad(format!("tensor `{COORDS}`: {e}")))?;
        let (n, dim) = match (emb.dtype(), emb.shape()) {
            (Dtype::F32, [n, d]) if *d > 0 => (*n, *d),
            (t, s) => {
                return Err(bad(format!(
                    "`{EMBEDDINGS}` must be F32 [n, dim], found {t:?} {s:?}"
                )))
            }
        };
        if crd.dtype() != Dtype::F64 || crd.shape() != [n, 2] {
            return Err(bad(format!(
                "`{COORDS}` must be F64 [{n}, 2], found {:?} {:?}",
                crd.dtype(),
                crd.shape()
            )));
        }
        let vectors: Vec<f32> = emb
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let raw: Vec<f64> = crd
            .data()
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
            .collect();
        let mut coords = Vec::with_capacity(n);
        for (row, c) in raw.chunks_exact(2).enumerate() {
            coords
                .push(LatLon::new(c[0], c[1]).map_err(|e| bad(format!("coords row {row}: {e}")))?);
        }
        Ok(ReferenceIndex {
            meta: IndexMeta { embedder, sources },
            dim,
            vectors,
            coords,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> IndexMeta {
        IndexMeta {
            embedder: "test".into(),
            sources: vec!["a".into(), "b".into()],
        }
    }

    fn ll(lat: f64, lon: f64) -> LatLon {
        LatLon::new(lat, lon).expect("valid")
    }

    #[test]
    fn dot_matches_naive_for_odd_lengths() {
        for n in [1, 7, 8, 9, 17, 136] {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - naive).abs() < 1e-4, "n={n}");
        }
    }

    #[test]
    fn search_finds_nearest_and_farthest_in_order() {
        let refs = vec![
            (vec![1.0, 0.0], ll(1.0, 1.0)),
            (vec![0.9, 0.1], ll(2.0, 2.0)),
            (vec![0.0, 1.0], ll(3.0, 3.0)),
            (vec![-1.0, 0.0], ll(4.0, 4.0)),
        ];
        let idx = ReferenceIndex::from_vectors(meta(), 2, refs).expect("index");
        let r = idx.search(&[2.0, 0.0], 2).expect("search");
        assert_eq!(r.near.iter().map(|n| n.row).collect::<Vec<_>>(), [0, 1]);
        assert!((r.near[0].similarity - 1.0).abs() < 1e-6);
        assert_eq!(r.far.iter().map(|n| n.row).collect::<Vec<_>>(), [3, 2]);
        assert!((r.far[0].similarity + 1.0).abs() < 1e-6);
        assert_eq!(r.far[0].pos, ll(4.0, 4.0));
    }

    #[test]
    fn bad_input_is_named() {
        let err = ReferenceIndex::from_vectors(meta(), 3, vec![(vec![1.0, 0.0], ll(0.0, 0.0))])
            .expect_err("dim");
        assert!(matches!(
            err,
            IndexError::Dimension {
                row: 0,
                expected: 3,
                found: 2
            }
        ));
        let err = ReferenceIndex::from_vectors(meta(), 2, vec![(vec![0.0, 0.0], ll(0.0, 0.0))])
            .expect_err("zero");
        assert!(matches!(err, IndexError::BadVector { row: 0 }));
        let idx = ReferenceIndex::from_vectors(meta(), 2, vec![(vec![1.0, 0.0], ll(0.0, 0.0))])
            .expect("index");
        assert!(matches!(
            idx.search(&[1.0, 0.0], 0),
            Err(IndexError::BadK(0))
        ));
        assert!(matches!(
            idx.search(&[1.0], 1),
            Err(IndexError::Dimension { .. })
        ));
        // Asking for more than there are returns them all.
        assert_eq!(idx.search(&[1.0, 0.0], 5).expect("search").near.len(), 1);
        let empty = ReferenceIndex::from_vectors(meta(), 2, vec![]).expect("empty");
        assert!(matches!(
            empty.search(&[1.0, 0.0], 1),
            Err(IndexError::Empty)
        ));
    }

    #[test]
    fn save_and_load_round_trip_and_reject_garbage() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join("refs.safetensors");
        let refs = (0..10).map(|i| {
            (
                vec![i as f32 + 1.0, 1.0, -(i as f32)],
                ll(i as f64 * 1.5 - 7.0, 179.9 - i as f64),
            )
        });
        let idx = ReferenceIndex::from_vectors(meta(), 3, refs).expect("index");
        idx.save(&path).expect("save");
        let back = ReferenceIndex::load(&path).expect("load");
        assert_eq!(back, idx);
        assert_eq!(back.meta().sources, ["a", "b"]);

        std::fs::write(&path, b"not an index").expect("write");
        let err = ReferenceIndex::load(&path)
            .expect_err("garbage")
            .to_string();
        assert!(
            err.contains("refs.safetensors") && err.contains("index build"),
            "{err}"
        );
        let err = ReferenceIndex::load(&dir.path().join("none")).expect_err("missing");
        assert!(matches!(err, IndexError::Io { .. }));
    }
}
