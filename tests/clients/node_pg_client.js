// node-postgres (`pg`) against a PostgreSQL-wire server: connect, DDL, parameterized and named
// prepared statements, types, transactions and a unique violation. The connection comes from
// the libpq env vars (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE), which `pg` reads itself.
// Prints one line per check and exits 1 on the first failure.
'use strict';

const { Client, DatabaseError } = require('pg');
const { isDeepStrictEqual } = require('util');

const T = 'node_pg_items';

function fail(name, message) {
  console.log(`FAIL ${name}: ${message}`);
  process.exit(1);
}

function check(name, got, want, kind) {
  if (kind !== undefined) {
    const ok = typeof kind === 'string' ? typeof got === kind : got instanceof kind;
    if (!ok) fail(name, `got ${JSON.stringify(got)} (${typeof got}), want a ${kind.name || kind}`);
  }
  if (want !== undefined && !isDeepStrictEqual(got, want)) {
    fail(name, `got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
  console.log(`ok ${name}`);
}

// An INTEGER column: int4 on PostgreSQL (a number), int8 on the gateway, where SQLite's INTEGER
// is 64-bit (node-postgres returns int8 as a string to keep its precision). Either way the
// value must be exactly `want`.
function checkInteger(name, got, want) {
  const ok = (typeof got === 'number' && got === want) || (typeof got === 'string' && got === String(want));
  if (!ok) fail(name, `got ${JSON.stringify(got)} (${typeof got}), want the integer ${want}`);
  console.log(`ok ${name}`);
}

function describe(err) {
  return `${err.constructor.name}: ${err.message} (sqlstate ${err.code})`;
}

async function step(name, promise) {
  try {
    return await promise;
  } catch (err) {
    return fail(name, describe(err));
  }
}

async function main() {
  const c = new Client();
  await step('connect', c.connect());
  console.log('ok connect');
  const one = await step('select 1', c.query('SELECT 1 AS one'));
  check('select 1', one.rows[0].one, 1, 'number');

  await step('drop old table', c.query(`DROP TABLE IF EXISTS ${T}`));
  await step('create table', c.query(`CREATE TABLE ${T} (
      id SERIAL PRIMARY KEY,
      name VARCHAR(40) NOT NULL UNIQUE,
      qty INTEGER,
      big BIGINT,
      price DOUBLE PRECISION,
      active BOOLEAN,
      data BYTEA,
      amount NUMERIC(10, 2),
      created TIMESTAMP,
      note TEXT)`));
  console.log('ok create table');

  const ins = await step('insert returning', c.query(
    `INSERT INTO ${T} (name, qty, big, price, active, data, amount, created, note)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
    ['alpha', 7, '1099511627776', 2.5, true, Buffer.from([0, 1, 255]), '12.34', '2024-01-02 03:04:05', null]));
  check('insert rowCount', ins.rowCount, 1, 'number');
  checkInteger('insert returning id', ins.rows[0].id, 1);

  const sel = await step('select typed row', c.query(
    `SELECT id, name, qty, big, price, active, data, amount, created, note FROM ${T} WHERE name = $1`, ['alpha']));
  const r = sel.rows[0];
  check('varchar column', r.name, 'alpha', 'string');
  checkInteger('int column', r.qty, 7);
  // node-postgres returns int8 and numeric as strings, to keep their precision.
  check('bigint column is a string', r.big, '1099511627776', 'string');
  check('double precision column', r.price, 2.5, 'number');
  check('boolean column', r.active, true, 'boolean');
  check('bytea column is a Buffer', r.data, undefined, Buffer);
  check('bytea column bytes', [...r.data], [0, 1, 255]);
  check('numeric column is a string', r.amount, '12.34', 'string');
  check('timestamp column is a Date', r.created, undefined, Date);
  check('timestamp value', [r.created.getFullYear(), r.created.getMonth(), r.created.getDate(), r.created.getHours(), r.created.getMinutes(), r.created.getSeconds()], [2024, 0, 2, 3, 4, 5]);
  check('NULL is null', r.note, null);
  check('field names', sel.fields.map((f) => f.name), ['id', 'name', 'qty', 'big', 'price', 'active', 'data', 'amount', 'created', 'note']);

  // A named prepared statement, executed several times (parsed once by the server).
  for (let i = 1; i <= 5; i++) {
    await step(`named insert ${i}`, c.query({
      name: 'node_pg_insert',
      text: `INSERT INTO ${T} (name, qty, price, active) VALUES ($1, $2, $3, $4)`,
      values: [`bulk${i}`, i, i * 0.5, i % 2 === 0],
    }));
  }
  console.log('ok named prepared insert x5');
  const many = await step('select many', c.query({
    name: 'node_pg_select',
    text: `SELECT name, qty, price, active FROM ${T} WHERE name LIKE $1 AND qty >= $2 ORDER BY qty`,
    values: ['bulk%', 2],
  }));
  // qty is INTEGER: a number on PostgreSQL (int4), an int8 string on the gateway.
  const rows = many.rows.map((r) => ({ ...r, qty: Number(r.qty) }));
  check('select many rows', rows, [2, 3, 4, 5].map((i) => ({ name: `bulk${i}`, qty: i, price: i * 0.5, active: i % 2 === 0 })));
  check('select many rowCount', many.rowCount, 4, 'number');
  const rowMode = await step('rowMode array', c.query({ text: `SELECT count(*) AS n FROM ${T}`, rowMode: 'array' }));
  check('count(*) is a bigint string', rowMode.rows, [['6']]);

  // A rolled-back transaction leaves nothing.
  await step('begin', c.query('BEGIN'));
  await step('insert in transaction', c.query(`INSERT INTO ${T} (name, qty) VALUES ($1, $2)`, ['ghost', 99]));
  await step('rollback', c.query('ROLLBACK'));
  const ghost = await step('count ghost', c.query(`SELECT id FROM ${T} WHERE name = $1`, ['ghost']));
  check('rollback leaves nothing', ghost.rowCount, 0, 'number');

  await step('begin 2', c.query('BEGIN'));
  const upd = await step('update', c.query(`UPDATE ${T} SET qty = qty + $1 WHERE name = $2`, [100, 'bulk1']));
  check('update rowCount', upd.rowCount, 1, 'number');
  await step('commit', c.query('COMMIT'));
  const kept = await step('select updated', c.query(`SELECT qty FROM ${T} WHERE name = 'bulk1'`));
  checkInteger('commit keeps the update', kept.rows[0].qty, 101);

  try {
    await c.query(`INSERT INTO ${T} (name) VALUES ($1)`, ['alpha']);
    fail('unique violation', 'a duplicate name was accepted');
  } catch (err) {
    check('unique violation is a DatabaseError', err, undefined, DatabaseError);
    check('unique violation is 23505', err.code, '23505');
  }
  await step('begin 3', c.query('BEGIN'));
  try {
    await c.query(`INSERT INTO ${T} (name) VALUES ($1)`, ['alpha']);
    fail('unique violation in transaction', 'a duplicate name was accepted');
  } catch (err) {
    check('unique violation in a transaction is 23505', err.code, '23505');
  }
  try {
    await c.query('SELECT 1');
    fail('aborted transaction', 'a statement after an error was accepted');
  } catch (err) {
    check('aborted transaction refuses statements / 25P02', err.code, '25P02');
  }
  await step('rollback 3', c.query('ROLLBACK'));

  const up = await step('on conflict do update', c.query(
    `INSERT INTO ${T} (name, qty) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET qty = excluded.qty RETURNING qty`, ['alpha', 70]));
  checkInteger('on conflict do update', up.rows[0].qty, 70);

  await step('drop table', c.query(`DROP TABLE ${T}`));
  console.log('ok drop table');
  await c.end();
  console.log('ok all');
}

main().catch((err) => fail('unexpected', describe(err)));
