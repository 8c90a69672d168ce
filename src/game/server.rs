//! The local game web server (stub).
