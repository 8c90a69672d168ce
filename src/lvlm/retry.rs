//! Retries (stub).
