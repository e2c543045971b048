//! LiteREST: `/rest/{table}[/{id}]` and `/rest/{schema}/{table}[/{id}]` (spec §5.2).
//!
//! Owns the REST routes: resolving the path against the real schema, building parameterised
//! statements, and StarbaseDB's response shapes. Table and column names are only ever those
//! read from the catalog (quoted); values are always bound. The same statements serve an
//! external PostgreSQL source, whose catalog is read by `pg_schema`; MySQL sources get
//! `0A000`. Must not know SQLite beyond the catalog queries in `schema`.

mod filter;
mod mysql_schema;
mod pg_schema;
mod returning;
pub(in crate::frontend::http) mod schema;

use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value as Json, json};
use starbase_protocol::{DbError, Dialect, ExecMode, Params, Plan, SqlState, Statement, Value};

use super::AppState;
use super::body::read_limited;
use super::error::ApiError;
use super::render::{Arity, Shape, render, render_framed};
use super::source::resolve_source;
use crate::auth::Principal;
use crate::engine::Target;
use filter::{Clauses, coerce};
use schema::TableInfo;

/// Every `/rest/…` request.
pub(super) async fn handle_rest(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    method: Method,
    Path(path): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    let target = resolve_source(&state.engine, &headers, &uri)?;
    let pairs: Vec<(String, String)> = uri
        .query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .filter(|(k, _)| k != "source")
                .collect()
        })
        .unwrap_or_default();
    let (table, id) = resolve(&state, &principal, &target, &path).await?;
    let rest = Rest {
        state: &state,
        principal: &principal,
        table: &table,
        id: id.as_deref(),
        pairs: &pairs,
    };
    match method {
        Method::GET => rest.get().await,
        Method::POST => rest.post(read_object(&state, &headers, body).await?).await,
        Method::PATCH => {
            rest.update(read_object(&state, &headers, body).await?, Replace::No)
                .await
        }
        Method::PUT => {
            rest.update(read_object(&state, &headers, body).await?, Replace::Yes)
                .await
        }
        Method::DELETE => rest.delete().await,
        _ => Err(ApiError::with_status(
            StatusCode::METHOD_NOT_ALLOWED,
            DbError::new(SqlState::FEATURE_NOT_SUPPORTED, "method not allowed"),
        )),
    }
}

/// The table `name` on `target` (an unqualified name, as `/rest/{table}` resolves it; on
/// MySQL one of the connection's database), for the imports.
///
/// # Errors
/// `404`/`42P01` when there is none.
pub(in crate::frontend::http) async fn table_or_404_on(
    engine: &crate::engine::Engine,
    principal: &Principal,
    target: &Target,
    name: &str,
) -> Result<TableInfo, ApiError> {
    let found = match (target, engine.dialect(target)) {
        (Target::Internal, _) => return schema::table_or_404(engine, principal, name).await,
        (Target::External(_), Dialect::MySql) => {
            mysql_schema::table(engine, principal, target, None, name).await
        }
        (Target::External(_), _) => pg_schema::table(engine, principal, target, None, name).await,
    };
    found.map_err(|e| {
        if e.code == SqlState::UNDEFINED_TABLE {
            ApiError::with_status(StatusCode::NOT_FOUND, e)
        } else {
            ApiError::new(e)
        }
    })
}

/// `/rest/` with nothing after it.
pub(super) async fn handle_rest_root() -> ApiError {
    ApiError::new(DbError::invalid_parameter(
        "expected a table name in the path: /rest/{table}",
    ))
}

/// The path's table and primary-key value. `/rest/a/b` is schema `a`, table `b` when `a` is a
/// schema of the database, and otherwise table `a`, key `b`.
async fn resolve(
    state: &AppState,
    principal: &Principal,
    target: &Target,
    path: &str,
) -> Result<(TableInfo, Option<String>), DbError> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let engine = &state.engine;
    let table = |schema: Option<&'static str>, name: String| async move {
        match target {
            Target::Internal => {
                schema::table(engine, principal, schema.unwrap_or("main"), &name).await
            }
            Target::External(_) if engine.dialect(target) == Dialect::MySql => {
                mysql_schema::table(engine, principal, target, schema, &name).await
            }
            Target::External(_) => pg_schema::table(engine, principal, target, schema, &name).await,
        }
    };
    let in_schema = |schema: String, name: String| async move {
        match target {
            Target::Internal => schema::table(engine, principal, &schema, &name).await,
            Target::External(_) if engine.dialect(target) == Dialect::MySql => {
                mysql_schema::table(engine, principal, target, Some(&schema), &name).await
            }
            Target::External(_) => {
                pg_schema::table(engine, principal, target, Some(&schema), &name).await
            }
        }
    };
    match segments.as_slice() {
        [name] => Ok((table(None, (*name).to_owned()).await?, None)),
        [first, second] => {
            let schemas = match target {
                Target::Internal => schema::schemas(engine, principal).await?,
                Target::External(_) if engine.dialect(target) == Dialect::MySql => {
                    mysql_schema::schemas(engine, principal, target).await?
                }
                Target::External(_) => pg_schema::schemas(engine, principal, target).await?,
            };
            if schemas.iter().any(|s| s == first) {
                Ok((
                    in_schema((*first).to_owned(), (*second).to_owned()).await?,
                    None,
                ))
            } else {
                let found = table(None, (*first).to_owned()).await?;
                Ok((found, Some((*second).to_owned())))
            }
        }
        [schema_name, name, id] => Ok((
            in_schema((*schema_name).to_owned(), (*name).to_owned()).await?,
            Some((*id).to_owned()),
        )),
        _ => Err(DbError::invalid_parameter(
            "expected /rest/{table}[/{id}] or /rest/{schema}/{table}[/{id}]",
        )),
    }
}

async fn read_object(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Map<String, Json>, ApiError> {
    // StarbaseDB parses REST bodies as JSON whatever the content type says.
    let bytes = read_limited(headers, body, state.limits.max_request_bytes).await?;
    let json: Json = serde_json::from_slice(&bytes).map_err(|e| {
        DbError::new(
            SqlState::INVALID_TEXT_REPRESENTATION,
            format!("malformed JSON body: {e}"),
        )
    })?;
    match json {
        Json::Object(map) if !map.is_empty() => Ok(map),
        Json::Object(_) => Err(DbError::invalid_parameter("no data provided").into()),
        _ => Err(
            DbError::invalid_parameter("invalid data format: the body must be a JSON object")
                .into(),
        ),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Replace {
    /// PATCH: only the given columns change.
    No,
    /// PUT: the row is replaced; columns not given get their default (or NULL).
    Yes,
}

struct Rest<'a> {
    state: &'a AppState,
    principal: &'a Principal,
    table: &'a TableInfo,
    id: Option<&'a str>,
    pairs: &'a [(String, String)],
}

impl Rest<'_> {
    async fn get(&self) -> Result<Response, ApiError> {
        let mut clauses = Clauses::for_table(self.table);
        if let Some(id) = self.id {
            let pk = self.single_key()?;
            clauses.equals(pk, id)?;
        }
        filter::from_query(self.table, self.pairs, &mut clauses)?;
        let sql = format!(
            "SELECT * FROM {}{}{}{}",
            self.table.qualified(),
            clauses.where_clause(),
            clauses.order_by,
            clauses.limit
        );
        let stream = self.run(sql, clauses.params).await?;
        let body = render(
            stream,
            Shape::Objects,
            Arity::One,
            self.state.limits.response,
        )
        .await?;
        Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
    }

    async fn post(&self, body: Map<String, Json>) -> Result<Response, ApiError> {
        let mut names = Vec::with_capacity(body.len());
        let mut params = Vec::with_capacity(body.len());
        for (key, value) in &body {
            names.push(self.table.quote(&self.table.column(key)?.name));
            params.push(Value::from_json_param(value)?);
        }
        let row = self
            .insert_returning(&names, params, &body)
            .await?
            .unwrap_or(Json::Null);
        let body = json!({"result": {"message": "Resource created successfully", "data": row}});
        Ok((StatusCode::CREATED, axum::Json(body)).into_response())
    }

    async fn update(
        &self,
        body: Map<String, Json>,
        replace: Replace,
    ) -> Result<Response, ApiError> {
        let mut keys = self.key(Some(&body))?;
        let mut sets = Vec::new();
        for column in &self.table.columns {
            if column.pk > 0 {
                continue;
            }
            match body.get(&column.name) {
                Some(value) => {
                    keys.params.push(Value::from_json_param(value)?);
                    sets.push(format!(
                        "{} = ${}",
                        self.table.quote(&column.name),
                        keys.params.len()
                    ));
                }
                // The default comes from the schema itself, not from the request (MySQL's
                // catalog spells literals unquoted, so it gets its `DEFAULT` keyword).
                None if replace == Replace::Yes => sets.push(format!(
                    "{} = {}",
                    self.table.quote(&column.name),
                    match (self.table.dialect, column.default.as_deref()) {
                        (Dialect::MySql, _) => "DEFAULT".to_owned(),
                        (_, Some(d)) => format!("({d})"),
                        (_, None) => "NULL".to_owned(),
                    }
                )),
                None => {}
            }
        }
        for key in body.keys() {
            self.table.column(key)?;
        }
        if sets.is_empty() {
            return Err(DbError::invalid_parameter("no updatable data provided").into());
        }
        let row = self
            .update_returning(&sets, keys)
            .await?
            .ok_or_else(|| self.not_found())?;
        let message = match replace {
            Replace::No => "Resource updated successfully",
            Replace::Yes => "Resource replaced successfully",
        };
        Ok(axum::Json(json!({"result": {"message": message, "data": row}})).into_response())
    }

    async fn delete(&self) -> Result<Response, ApiError> {
        let keys = self.key(None)?;
        self.delete_returning(keys)
            .await?
            .ok_or_else(|| self.not_found())?;
        Ok(
            axum::Json(json!({"result": {"message": "Resource deleted successfully"}}))
                .into_response(),
        )
    }

    /// The single primary-key column, for a key given in the path.
    fn single_key(&self) -> Result<&schema::ColumnInfo, DbError> {
        match self.table.primary_key().as_slice() {
            [pk] => Ok(pk),
            [] => Err(self.no_primary_key()),
            _ => Err(DbError::invalid_parameter(format!(
                "table \"{}\" has a composite primary key: give each key column as a query parameter",
                self.table.name
            ))),
        }
    }

    /// `WHERE` conditions on the whole primary key: from the path (single key), or per key
    /// column from the body or the query string.
    fn key(&self, body: Option<&Map<String, Json>>) -> Result<Clauses, DbError> {
        let mut clauses = Clauses::for_table(self.table);
        if let Some(id) = self.id {
            clauses.equals(self.single_key()?, id)?;
            return Ok(clauses);
        }
        let pk = self.table.primary_key();
        if pk.is_empty() {
            return Err(self.no_primary_key());
        }
        for column in pk {
            if let Some(value) = body.and_then(|b| b.get(&column.name)) {
                clauses.push(column, "=", Value::from_json_param(value)?);
            } else if let Some((_, raw)) = self.pairs.iter().find(|(k, _)| *k == column.name) {
                clauses.push(column, "=", coerce(column, raw)?);
            } else {
                return Err(DbError::invalid_parameter(format!(
                    "missing primary key value for \"{}\"",
                    column.name
                )));
            }
        }
        Ok(clauses)
    }

    fn no_primary_key(&self) -> DbError {
        DbError::invalid_parameter(format!("table \"{}\" has no primary key", self.table.name))
    }

    fn not_found(&self) -> ApiError {
        ApiError::with_status(
            StatusCode::NOT_FOUND,
            DbError::new(
                SqlState::NO_DATA,
                format!("no row in \"{}\" has that primary key", self.table.name),
            ),
        )
    }

    async fn run(
        &self,
        sql: String,
        params: Vec<Value>,
    ) -> Result<starbase_backends::ResultStream, ApiError> {
        self.run_steps(vec![(sql, params)]).await
    }

    /// Runs the statements, as one transaction when there are several.
    async fn run_steps(
        &self,
        steps: Vec<(String, Vec<Value>)>,
    ) -> Result<starbase_backends::ResultStream, ApiError> {
        let target = &self.table.target;
        let dialect = self.state.engine.dialect(target);
        let plan = Plan {
            mode: if steps.len() > 1 {
                ExecMode::Transaction
            } else {
                ExecMode::Single
            },
            steps: steps
                .into_iter()
                .map(|(sql, params)| Statement::new(sql, dialect, Params::Positional(params)))
                .collect(),
        };
        Ok(self
            .state
            .engine
            .execute_on(self.principal, target, plan)
            .await?)
    }

    /// Runs the statements and returns the first row of step `pick`, as a JSON object.
    async fn one_row(
        &self,
        steps: Vec<(String, Vec<Value>)>,
        pick: usize,
    ) -> Result<Option<Json>, ApiError> {
        let stream = self.run_steps(steps).await?;
        let bytes = render_framed(
            stream,
            Shape::Objects,
            Arity::PerStep,
            self.state.limits.response,
            b"",
            b"",
        )
        .await?;
        let results: Json = serde_json::from_slice(&bytes)
            .map_err(|e| DbError::internal(format!("unreadable row: {e}")))?;
        Ok(results
            .get(pick)
            .and_then(Json::as_array)
            .and_then(|rows| rows.first())
            .cloned())
    }
}
