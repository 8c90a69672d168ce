//! Browser control (stub).
