//! The download of a finished dump: its parts joined into one file, as byte segments.
//!
//! Owns how parts join: SQL parts follow each other whole; a CSV table is its first part
//! whole and the rest without their header rows; JSON is `{"table": [rows…], …}` built from
//! the parts' rows without their brackets. A `Range` is served by cutting these segments.
//! The parts are read from the registry a page at a time (see [`super::parts`]), once to
//! measure the file and once to send it, so a download holds one page, whatever the
//! dump's size. Must not know HTTP.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt as _;
use futures::stream::BoxStream;
use starbase_protocol::{DbError, SqlState};

use super::model::{Format, JobPlan, PartRecord, UnitKind};
use super::parts::{PAGE_PARTS, UnitSpan};
use super::registry::Registry;
use super::storage::Storage;
use crate::error::Error;
use crate::frontend::http::render::write_json;

/// A piece of the download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Bytes written by the gateway.
    Literal(Bytes),
    /// Bytes `start..end` of an object.
    Object {
        /// Object path.
        path: String,
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
}

impl Segment {
    fn len(&self) -> u64 {
        match self {
            Segment::Literal(b) => b.len() as u64,
            Segment::Object { start, end, .. } => end - start,
        }
    }
}

/// Parts that join one way: the whole file (SQL, or a CSV table), or one table of a JSON
/// dump (`name`), whose parts may come from several units of that name.
#[derive(Debug, Clone)]
struct Group {
    name: Option<String>,
    spans: Vec<UnitSpan>,
}

/// What a download joins, and how long the result is.
#[derive(Debug, Clone)]
pub struct Download {
    registry: Registry,
    storage: Storage,
    job: String,
    format: Format,
    groups: Arc<[Group]>,
    total: u64,
}

/// The tables of `plan` that have parts, in the order of their first part.
fn table_names<'p>(plan: &'p JobPlan, spans: &[UnitSpan]) -> Vec<&'p str> {
    let mut names: Vec<&str> = Vec::new();
    for span in spans {
        if let Some(u) = plan.units.get(span.unit)
            && u.kind == UnitKind::Table
            && !names.contains(&u.name.as_str())
        {
            names.push(&u.name);
        }
    }
    names
}

/// The groups of the download of a dump of `format` (`table`: one of its tables).
fn groups(
    format: Format,
    plan: &JobPlan,
    spans: &[UnitSpan],
    table: Option<&str>,
) -> Result<Vec<Group>, DbError> {
    let names = table_names(plan, spans);
    if let Some(name) = table
        && !names.contains(&name)
    {
        return Err(DbError::new(
            SqlState::UNDEFINED_TABLE,
            format!("the dump holds no table \"{name}\""),
        ));
    }
    if format == Format::Csv && table.is_none() && names.len() > 1 {
        return Err(DbError::invalid_parameter(format!(
            "this CSV dump holds {} tables; download one with ?table= ({})",
            names.len(),
            names.join(", ")
        )));
    }
    let of = |name: Option<&str>| -> Vec<UnitSpan> {
        spans
            .iter()
            .filter(|s| {
                name.is_none_or(|n| {
                    plan.units
                        .get(s.unit)
                        .is_some_and(|u| u.kind == UnitKind::Table && u.name == n)
                })
            })
            .copied()
            .collect()
    };
    Ok(match format {
        Format::Sql | Format::Csv => vec![Group {
            name: None,
            spans: of(table),
        }],
        Format::Json => names
            .into_iter()
            .filter(|n| table.is_none_or(|t| t == *n))
            .map(|n| Group {
                name: Some(n.to_owned()),
                spans: of(Some(n)),
            })
            .collect(),
    })
}

impl Download {
    /// The download of the completed job `job` with `plan` (`table`: one of its tables).
    ///
    /// # Errors
    /// `22023` when a CSV dump of several tables is downloaded without `table`, `42P01` for
    /// a table the dump does not hold; the registry's errors.
    pub async fn open(
        registry: Registry,
        storage: Storage,
        job: &str,
        format: Format,
        plan: &JobPlan,
        table: Option<&str>,
    ) -> Result<Self, Error> {
        let spans = registry.unit_spans(job).await?;
        let mut download = Self {
            groups: groups(format, plan, &spans, table)?.into(),
            registry,
            storage,
            job: job.to_owned(),
            format,
            total: 0,
        };
        let mut cursor = Cursor::new(format, Arc::clone(&download.groups));
        let mut total = 0;
        while let Some(page) = cursor.next_page(&download.registry, &download.job).await? {
            total += page.iter().map(Segment::len).sum::<u64>();
        }
        download.total = total;
        Ok(download)
    }

    /// The dump's format.
    #[must_use]
    pub fn format(&self) -> Format {
        self.format
    }

    /// Bytes of the whole file.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Streams bytes `from..to` of the file.
    pub fn stream(
        self,
        from: u64,
        to: u64,
    ) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        let cursor = Cursor::new(self.format, Arc::clone(&self.groups));
        let state = Some((self, cursor, 0u64));
        futures::stream::unfold(state, move |state| async move {
            let (download, mut cursor, offset) = state?;
            if offset >= to {
                return None;
            }
            match cursor.next_page(&download.registry, &download.job).await {
                Ok(Some(page)) => {
                    let (pieces, offset) = download.cut(page, offset, from, to);
                    Some((Ok(pieces), Some((download, cursor, offset))))
                }
                Ok(None) => None,
                Err(e) => Some((Err(std::io::Error::other(e.to_client().message)), None)),
            }
        })
        .flat_map(|r| match r {
            Ok(pieces) => futures::stream::iter(pieces).flatten().boxed(),
            Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
        })
    }

    /// The byte streams of the parts of `page` inside `from..to`, `offset` being where the
    /// page starts in the file; and where the next page starts.
    fn cut(
        &self,
        page: Vec<Segment>,
        mut offset: u64,
        from: u64,
        to: u64,
    ) -> (Vec<BoxStream<'static, Result<Bytes, std::io::Error>>>, u64) {
        let mut pieces = Vec::new();
        for segment in page {
            let (seg_start, seg_end) = (offset, offset + segment.len());
            offset = seg_end;
            let (a, b) = (from.max(seg_start), to.min(seg_end));
            if a >= b {
                continue;
            }
            let (a, b) = (a - seg_start, b - seg_start);
            pieces.push(match segment {
                Segment::Literal(bytes) => {
                    let (a, b) = (
                        usize::try_from(a).unwrap_or(0),
                        usize::try_from(b).unwrap_or(0),
                    );
                    futures::stream::once(async move { Ok(bytes.slice(a..b)) }).boxed()
                }
                Segment::Object { path, start, .. } => {
                    self.storage.read_range(&path, start + a, start + b).boxed()
                }
            });
        }
        (pieces, offset)
    }
}

/// Where a walk through the download's parts is.
#[derive(Debug)]
struct Cursor {
    format: Format,
    groups: Arc<[Group]>,
    /// The file's opening is written.
    opened: bool,
    group: usize,
    /// The current group's opening is written.
    group_open: bool,
    span: usize,
    /// The next part's position within the current span.
    next_seq: u64,
    /// No part of the current group (JSON) or of the file (CSV) is written yet.
    first_part: bool,
    done: bool,
}

impl Cursor {
    fn new(format: Format, groups: Arc<[Group]>) -> Self {
        Self {
            format,
            groups,
            opened: false,
            group: 0,
            group_open: false,
            span: 0,
            next_seq: 0,
            first_part: true,
            done: false,
        }
    }

    /// The next segments of the file (at most a page of parts); `None` at its end.
    async fn next_page(
        &mut self,
        registry: &Registry,
        job: &str,
    ) -> Result<Option<Vec<Segment>>, Error> {
        let mut out = Vec::new();
        while out.is_empty() && !self.done {
            self.step(registry, job, &mut out).await?;
        }
        Ok((!out.is_empty()).then_some(out))
    }

    async fn step(
        &mut self,
        registry: &Registry,
        job: &str,
        out: &mut Vec<Segment>,
    ) -> Result<(), Error> {
        let json = self.format == Format::Json;
        if !self.opened {
            self.opened = true;
            if json {
                out.push(Segment::Literal(Bytes::from_static(b"{")));
            }
            return Ok(());
        }
        let Some(group) = self.groups.get(self.group).cloned() else {
            self.done = true;
            if json {
                out.push(Segment::Literal(Bytes::from_static(b"\n}\n")));
            }
            return Ok(());
        };
        if !self.group_open {
            self.group_open = true;
            if let Some(name) = group.name.as_deref() {
                self.first_part = true;
                let mut head = Vec::new();
                if self.group > 0 {
                    head.push(b',');
                }
                head.push(b'\n');
                write_json(&mut head, name);
                head.extend_from_slice(b":[");
                out.push(Segment::Literal(Bytes::from(head)));
            }
            return Ok(());
        }
        let Some(span) = group.spans.get(self.span).copied() else {
            if json {
                out.push(Segment::Literal(Bytes::from_static(if self.first_part {
                    b"]"
                } else {
                    b"\n]"
                })));
            }
            self.group += 1;
            self.group_open = false;
            self.span = 0;
            self.next_seq = 0;
            return Ok(());
        };
        let from = self.next_seq.max(span.first);
        let page = registry
            .parts_page(job, from, span.last, PAGE_PARTS)
            .await?;
        match page.last() {
            Some(last) if page.len() as u64 == PAGE_PARTS && last.seq < span.last => {
                self.next_seq = last.seq + 1;
            }
            _ => {
                self.span += 1;
                self.next_seq = 0;
            }
        }
        for part in page.iter().filter(|p| p.unit == span.unit) {
            self.part(part, out);
        }
        Ok(())
    }

    fn part(&mut self, part: &PartRecord, out: &mut Vec<Segment>) {
        let object = |start: u64, end: u64| Segment::Object {
            path: part.path.clone(),
            start,
            end,
        };
        match self.format {
            Format::Sql => out.push(object(0, part.bytes)),
            Format::Csv => {
                let start = if self.first_part { 0 } else { part.head };
                self.first_part = false;
                out.push(object(start, part.bytes));
            }
            Format::Json => {
                if part.rows == 0 {
                    return;
                }
                out.push(Segment::Literal(Bytes::from_static(if self.first_part {
                    b"\n"
                } else {
                    b",\n"
                })));
                self.first_part = false;
                out.push(object(part.head, part.bytes - part.tail));
            }
        }
    }
}
