//! Reading one statement's rows in pieces: the cursor behind `Execute` (with or without a
//! row limit) and the portal an `Execute` with a limit leaves suspended.
//!
//! Owns `Cursor` and `Suspended`. A suspended portal keeps its live result stream, so rows
//! keep coming from SQLite with backpressure; only when the session must run another plan
//! while a portal is suspended (a second portal, a simple query) are its remaining rows
//! read ahead into memory ("spilled"), up to [`SPILL_LIMIT_ROWS`]. Must not know the wire
//! encoding.

use std::collections::VecDeque;

use starbase_backends::{Error, Event, ExecSummary, ResultStream};
use starbase_protocol::{DbError, Row};

use super::describe::ResultColumn;

/// Rows a spilled portal may hold in memory before it fails with `54000`.
pub const SPILL_LIMIT_ROWS: usize = 1_000_000;

/// Where a cursor's events come from.
#[derive(Debug)]
enum Source {
    /// Straight from the backend.
    Live(ResultStream),
    /// Read ahead (the session was needed for something else).
    Spilled(VecDeque<Result<Event, Error>>),
}

/// The rows of one running statement.
#[derive(Debug)]
pub struct Cursor {
    source: Source,
    pending: VecDeque<Row>,
    finished: bool,
    /// The statement's summary, once it is done.
    pub summary: Option<ExecSummary>,
    /// Rows handed out so far.
    pub rows_sent: u64,
}

impl Cursor {
    /// A cursor over a statement's result stream.
    #[must_use]
    pub fn new(stream: ResultStream) -> Self {
        Self {
            source: Source::Live(stream),
            pending: VecDeque::new(),
            finished: false,
            summary: None,
            rows_sent: 0,
        }
    }

    /// The next row; `None` once the statement (and its plan) finished.
    ///
    /// # Errors
    /// The statement's error.
    pub async fn next_row(&mut self) -> Result<Option<Row>, DbError> {
        loop {
            if let Some(row) = self.pending.pop_front() {
                self.rows_sent += 1;
                return Ok(Some(row));
            }
            if self.finished {
                return Ok(None);
            }
            let event = match &mut self.source {
                Source::Live(stream) => stream.recv().await,
                Source::Spilled(events) => events.pop_front(),
            };
            match event {
                None => return Err(DbError::internal("the database stopped answering")),
                Some(Err(e)) => {
                    self.finished = true;
                    return Err(e.to_db_error());
                }
                Some(Ok(Event::Rows(batch))) => self.pending.extend(batch),
                Some(Ok(Event::Done(summary))) => self.summary = Some(summary),
                Some(Ok(Event::Finished)) => self.finished = true,
                Some(Ok(_)) => {}
            }
        }
    }

    /// Reads every remaining event into memory so the session is free for another plan.
    /// When more than [`SPILL_LIMIT_ROWS`] rows remain, the portal's next fetch fails with
    /// `54000` instead (its statement is cancelled).
    pub async fn spill(&mut self) {
        let Source::Live(stream) = &mut self.source else {
            return;
        };
        let mut events = VecDeque::new();
        let mut rows = self.pending.len();
        while let Some(event) = stream.recv().await {
            if let Ok(Event::Rows(batch)) = &event {
                rows += batch.len();
                if rows > SPILL_LIMIT_ROWS {
                    let error = DbError::limit_exceeded(format!(
                        "a suspended portal would have to hold more than {SPILL_LIMIT_ROWS} \
                         rows while another statement runs"
                    ))
                    .with_hint(
                        "fetch the portal to its end, or close it, before running another \
                         statement",
                    );
                    self.pending.clear();
                    self.source = Source::Spilled(VecDeque::from([Err(Error::Db(error))]));
                    return;
                }
            }
            events.push_back(event);
        }
        self.source = Source::Spilled(events);
    }
}

/// A portal whose `Execute` stopped at its row limit.
#[derive(Debug)]
pub struct Suspended {
    /// The portal's name (`""` for the unnamed portal).
    pub portal: String,
    /// Its rows.
    pub cursor: Cursor,
    /// Its columns, with the formats the Bind asked for.
    pub columns: Vec<ResultColumn>,
    /// Command tag without the count.
    pub tag: String,
    /// Whether a row count follows the tag.
    pub tag_counts_rows: bool,
}
