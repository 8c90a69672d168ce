//! OpenAI-compatible chat completions (stub).
