//! Answers the site may give when something between it and the player fails: a guess answered
//! with a 500 or a malformed body after the site scored it (the round counts; the answer is
//! lost), and game reads answered the same way.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::Mutex;

/// How an answer is spoiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 500 with a short HTML body (a proxy's error page).
    ServerError,
    /// 200 with a JSON body cut short.
    Malformed,
}

/// What follows a round's scored guess: its answer spoiled, and reads failing (how, how many).
type AfterGuess = (Option<Fault>, Option<(Fault, u32)>);

/// The faults still to serve.
#[derive(Default)]
pub(super) struct Faults {
    /// Per round (1-based): how the answer to that round's guess is spoiled after it was
    /// scored, and how the reads after it fail (how, how many).
    guesses: Mutex<HashMap<usize, AfterGuess>>,
    /// The next reads of a game: how, and how many.
    reads: Mutex<Option<(Fault, u32)>>,
}

impl Faults {
    pub fn on_guess(&self, round: usize, answer: Option<Fault>, reads: Option<(Fault, u32)>) {
        super::lock(&self.guesses).insert(round, (answer, reads));
    }

    pub fn on_reads(&self, fault: Fault, n: u32) {
        *super::lock(&self.reads) = (n > 0).then_some((fault, n));
    }

    /// The spoiled answer to the guess of `round`, once; the reads after it start failing.
    pub fn guess_answer(&self, round: usize) -> Option<Response> {
        let (spoiled, reads) = super::lock(&self.guesses).remove(&round)?;
        if let Some((fault, n)) = reads {
            self.on_reads(fault, n);
        }
        spoiled.map(answer)
    }

    /// The spoiled answer to this read, while reads are to fail.
    pub fn read_answer(&self) -> Option<Response> {
        let mut reads = super::lock(&self.reads);
        let (fault, n) = (*reads)?;
        *reads = (n > 1).then_some((fault, n - 1));
        Some(answer(fault))
    }
}

fn answer(fault: Fault) -> Response {
    match fault {
        Fault::ServerError => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body><h1>500 Internal Server Error</h1></body></html>",
        )
            .into_response(),
        Fault::Malformed => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{\"token\":\"",
        )
            .into_response(),
    }
}
