//! Map packs on disk (stub).
