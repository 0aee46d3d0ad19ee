// tedious (npm, the most used Node.js TDS driver) against tdsd: each check
// prints one line, "ok NAME" or "not ok NAME: why"; the exit status is the
// number of failed checks (0: all passed). Run by tests/peers/tdsd-clients.bats
// with PORT set to a tdsd over a copy of tests/peers/schema.sql.
'use strict';
const path = require('path');
const assert = require('assert/strict');
const top = process.env.SCHEDFEED_TOP || path.join(__dirname, '..', '..');
const { Connection, Request, TYPES } = require(path.join(top, 'tests', 'node', 'node_modules', 'tedious'));

const PORT = Number(process.env.PORT);
let failed = 0, passed = 0;

function config(extra = {}) {
	const { options = {}, password = 'schedfeed' } = extra;
	return {
		server: '127.0.0.1',
		authentication: { type: 'default', options: { userName: 'schedfeed', password } },
		options: {
			port: PORT, database: 'tdsd', encrypt: false, trustServerCertificate: false,
			connectTimeout: 15000, requestTimeout: 30000, ...options,
		},
	};
}

function connect(extra) {
	return new Promise((resolve, reject) => {
		const c = new Connection(config(extra));
		c.infos = [];
		c.on('infoMessage', (m) => c.infos.push(m));
		c.on('error', () => {});
		c.connect((err) => (err ? reject(err) : resolve(c)));
	});
}

// run(c, sql, params, how): {rows (values), meta, counts, err, infos}
function run(c, sql, params = [], how = 'execSql', hook) {
	return new Promise((resolve) => {
		const out = { rows: [], meta: [], counts: [], sets: [] };
		const infoStart = c.infos.length;
		const req = new Request(sql, (err, rowCount) => {
			out.err = err;
			out.rowCount = rowCount;
			out.infos = c.infos.slice(infoStart);
			resolve(out);
		});
		for (const [name, type, value, opts] of params)
			req.addParameter(name, type, value, opts);
		req.on('columnMetadata', (cols) => {
			out.meta = cols;
			out.sets.push([]);
		});
		req.on('row', (cols) => {
			const row = cols.map((col) => col.value);
			out.rows.push(row);
			out.sets[out.sets.length - 1].push(row);
		});
		req.on('doneInProc', (rowCount) => out.counts.push(rowCount));
		req.on('done', (rowCount) => { if (rowCount !== undefined) out.counts.push(rowCount); });
		if (hook)
			hook(req, c);
		c[how](req);
	});
}

function tx(c, method, ...args) {
	return new Promise((resolve, reject) =>
		c[method]((err) => (err ? reject(err) : resolve()), ...args));
}

async function check(name, fn) {
	try {
		await fn();
		passed++;
		console.log(`ok ${name}`);
	} catch (e) {
		failed++;
		console.log(`not ok ${name}: ${(e && e.message || String(e)).split('\n').join(' ')}`);
	}
}

function ok(out) {
	if (out.err)
		throw new Error(`request failed: ${out.err.number || ''} ${out.err.message}`);
	return out;
}

function bytes(hex) { return Buffer.from(hex, 'hex'); }

async function main() {
	const c = await connect();
	const q = (sql, params, how) => run(c, sql, params, how).then(ok);

	await check('connect: login, database tdsd, SELECT 1 is an Int', async () => {
		const r = await q('SELECT 1 AS one');
		assert.deepEqual(r.rows, [[1]]);
		assert.equal(r.meta[0].type.name, 'IntN');
		assert.equal(r.meta[0].colName, 'one');
	});
	await check('connect: a wrong password is ELOGIN with 18456', async () => {
		await assert.rejects(connect({ password: 'wrong' }),
			(e) => e.code === 'ELOGIN' && /Login failed for user 'schedfeed'/.test(e.message));
	});
	await check('connect: packet size 512 and 32767 both carry a 70000-character value', async () => {
		for (const packetSize of [512, 32767]) {
			const c2 = await connect({ options: { packetSize } });
			const r = ok(await run(c2, "SELECT printf('%.*c', 70000, 'x') || N'王' AS s"));
			c2.close();
			assert.equal(r.rows[0][0].length, 70001);
			assert.equal(r.rows[0][0].slice(-2), 'x王');
		}
	});

	// every column type, as SQL Server's metadata names it
	const want = {
		i: ['IntN', 42], big: ['IntN', '9000000000'], small: ['IntN', -3], tiny: ['IntN', 255],
		flag: ['BitN', true], dec: ['DecimalN', 12.5], cash: ['MoneyN', 3.25],
		smallcash: ['MoneyN', -1.5], f: ['FloatN', 0.5], r: ['FloatN', 0.25],
		d: ['Date', new Date(Date.UTC(2024, 0, 5))],
		dt: ['DateTimeN', new Date(Date.UTC(2024, 0, 5, 8, 30))],
		sdt: ['DateTimeN', new Date(Date.UTC(2024, 0, 5, 8, 30))],
		dt2: ['DateTime2', new Date(Date.UTC(2024, 0, 5, 8, 30, 0, 123))],
		dto: ['DateTimeOffset', new Date(Date.UTC(2024, 0, 5, 7, 30))],
		t: ['Time', new Date(Date.UTC(1970, 0, 1, 8, 30))],
		nv: ['NVarChar', 'Núñez 王'], v: ['VarChar', 'José'], c: ['Char', 'A1 '],
		nc: ['NChar', 'Ñ  '], nmax: ['NVarChar', 'long'], vmax: ['VarChar', 'text'],
		vb: ['VarBinary', bytes('00ff')], b: ['Binary', bytes('01020000')],
		vbmax: ['VarBinary', bytes('cafe')], g: ['UniqueIdentifier', '6F9619FF-8B86-D011-B42D-00C04FC964FF'],
	};
	const all = await run(c, `SELECT ${Object.keys(want).join(', ')} FROM kinds ORDER BY id`);
	for (const [col, [type, value]] of Object.entries(want)) {
		await check(`column ${col}: ${type} with its value, and NULL`, async () => {
			ok(all);
			const k = Object.keys(want).indexOf(col);
			assert.equal(all.meta[k].type.name, type);
			assert.deepEqual(all.rows[0][k], value);
			assert.equal(all.rows[1][k], null);
		});
	}
	await check('column sizes: VARCHAR(10) 10 bytes, NVARCHAR(20) 40, DECIMAL(10,2), DATETIME2(3), SMALLINT 2, REAL 4', async () => {
		const m = Object.fromEntries(ok(all).meta.map((x) => [x.colName, x]));
		assert.equal(m.v.dataLength, 10);
		assert.equal(m.nv.dataLength, 40);
		assert.equal(m.c.dataLength, 3);
		assert.equal(m.nmax.dataLength, 65535);
		assert.deepEqual([m.dec.precision, m.dec.scale], [10, 2]);
		assert.equal(m.dt2.scale, 3);
		assert.equal(m.small.dataLength, 2);
		assert.equal(m.r.dataLength, 4);
		assert.equal(m.sdt.dataLength, 4);
		assert.equal(m.big.dataLength, 8);
	});

	await check("VARCHAR keeps Windows-1252, as SQL Server: 'Ñ€' stays, '王' becomes '?'", async () => {
		await q("INSERT INTO ward(code, name) VALUES ('Ñ€', N'x'), ('王', N'y')");
		const r = await q("SELECT code FROM ward WHERE name IN ('x', 'y') ORDER BY name");
		assert.deepEqual(r.rows, [['Ñ€'], ['?']]);
	});
	await check('TDS 7.2: DATE and TIME come as NVarChar text, the rest as 7.4', async () => {
		const c2 = await connect({ options: { tdsVersion: '7_2' } });
		const r = ok(await run(c2, 'SELECT d, t, i FROM kinds WHERE id = 1'));
		c2.close();
		assert.deepEqual(r.meta.map((m) => m.type.name), ['NVarChar', 'NVarChar', 'IntN']);
		assert.deepEqual(r.rows, [['2024-01-05', '08:30:00', 42]]);
	});
	await check('callProcedure sp_executesql by name, with its @statement and @params', async () => {
		const r = await q('sp_executesql', [['statement', TYPES.NVarChar, 'SELECT @a AS n'],
			['params', TYPES.NVarChar, '@a int'], ['a', TYPES.Int, 42]], 'callProcedure');
		assert.deepEqual(r.rows, [[42]]);
	});
	await check("literals: 'x' is VarChar(1), N'Núñez 王' NVarChar(7), 1.5 numeric(2,1), NULL", async () => {
		const r = await q("SELECT 'x' AS a, N'Núñez 王' AS b, 1.5 AS c, NULL AS d, '' AS e");
		assert.deepEqual(r.rows, [['x', 'Núñez 王', 1.5, null, '']]);
		assert.deepEqual(r.meta.map((m) => m.type.name), ['VarChar', 'NVarChar', 'NumericN', 'IntN', 'VarChar']);
		assert.equal(r.meta[0].dataLength, 1);
		assert.equal(r.meta[1].dataLength, 14);
		assert.deepEqual([r.meta[2].precision, r.meta[2].scale], [2, 1]);
	});
	await check("N'...' literals in INSERT and WHERE", async () => {
		await q("INSERT INTO ward(code, name) VALUES (N'W1', N'Ward ''one'' 王')");
		const r = await q("SELECT name FROM ward WHERE code = N'W1' AND name LIKE N'%王'");
		assert.deepEqual(r.rows, [["Ward 'one' 王"]]);
	});
	await check("CAST(... AS VARCHAR(5)) and CAST(... AS DECIMAL(10,2)) are typed as the CAST says", async () => {
		const r = await q("SELECT CAST('abc' AS VARCHAR(5)) AS a, CAST(2.675 AS DECIMAL(10,2)) AS b");
		assert.deepEqual(r.meta.map((m) => m.type.name), ['VarChar', 'DecimalN']);
		assert.deepEqual(r.rows, [['abc', 2.68]]);
	});

	// SELECT @p: typed by the parameter, value round-tripped
	const params = [
		['Int', TYPES.Int, 7, 7, 'IntN'], ['BigInt', TYPES.BigInt, 9000000001, '9000000001', 'IntN'],
		['SmallInt', TYPES.SmallInt, -5, -5, 'IntN'], ['TinyInt', TYPES.TinyInt, 200, 200, 'IntN'],
		['Bit', TYPES.Bit, false, false, 'BitN'], ['Float', TYPES.Float, 1.25, 1.25, 'FloatN'],
		['Real', TYPES.Real, 0.5, 0.5, 'FloatN'],
		['Decimal', TYPES.Decimal, -12.05, -12.05, 'DecimalN', { precision: 10, scale: 2 }],
		['Numeric', TYPES.Numeric, 3.125, 3.125, 'NumericN', { precision: 9, scale: 3 }],
		['Money', TYPES.Money, 12.5, 12.5, 'MoneyN'], ['SmallMoney', TYPES.SmallMoney, -3.25, -3.25, 'MoneyN'],
		['Date', TYPES.Date, new Date(Date.UTC(2024, 1, 29)), new Date(Date.UTC(2024, 1, 29)), 'Date'],
		['DateTime', TYPES.DateTime, new Date(Date.UTC(2024, 0, 5, 8, 30, 0, 500)), new Date(Date.UTC(2024, 0, 5, 8, 30, 0, 500)), 'DateTimeN'],
		['SmallDateTime', TYPES.SmallDateTime, new Date(Date.UTC(2024, 0, 5, 8, 30)), new Date(Date.UTC(2024, 0, 5, 8, 30)), 'DateTimeN'],
		['DateTime2', TYPES.DateTime2, new Date(Date.UTC(2024, 0, 5, 8, 30, 1, 250)), new Date(Date.UTC(2024, 0, 5, 8, 30, 1, 250)), 'DateTime2', { scale: 3 }],
		['Time', TYPES.Time, new Date(Date.UTC(1970, 0, 1, 23, 59, 58)), new Date(Date.UTC(1970, 0, 1, 23, 59, 58)), 'Time', { scale: 0 }],
		['DateTimeOffset', TYPES.DateTimeOffset, new Date(Date.UTC(2024, 5, 1, 12, 0)), new Date(Date.UTC(2024, 5, 1, 12, 0)), 'DateTimeOffset'],
		['NVarChar', TYPES.NVarChar, 'Nguyễn 王 😀', 'Nguyễn 王 😀', 'NVarChar'],
		['VarChar', TYPES.VarChar, 'Núñez', 'Núñez', 'VarChar'],
		['NChar', TYPES.NChar, 'ab', 'ab', 'NChar', { length: 2 }],
		['Char', TYPES.Char, 'xy', 'xy', 'Char', { length: 2 }],
		['UniqueIdentifier', TYPES.UniqueIdentifier, '6f9619ff-8b86-d011-b42d-00c04fc964ff', '6F9619FF-8B86-D011-B42D-00C04FC964FF', 'UniqueIdentifier'],
		['VarBinary', TYPES.VarBinary, bytes('00ff10'), bytes('00ff10'), 'VarBinary'],
		['Binary', TYPES.Binary, bytes('0102'), bytes('0102'), 'Binary', { length: 2 }],
		['NVarChar(max)', TYPES.NVarChar, 'y'.repeat(9000), 'y'.repeat(9000), 'NVarChar', { length: Infinity }],
		['VarBinary(max)', TYPES.VarBinary, Buffer.alloc(20000, 7), Buffer.alloc(20000, 7), 'VarBinary', { length: Infinity }],
	];
	for (const [label, type, value, back, typeName, opts] of params) {
		await check(`parameter ${label}: SELECT @p comes back ${typeName} with the value`, async () => {
			const r = await q('SELECT @p AS p', [['p', type, value, opts]]);
			assert.equal(r.meta[0].type.name, typeName);
			assert.deepEqual(r.rows, [[back]]);
			const n = await q('SELECT @p AS p', [['p', type, null, opts]]);
			assert.deepEqual(n.rows, [[null]]);
			assert.equal(n.meta[0].type.name, typeName);
		});
	}
	await check('parameters bind by name into INSERT, UPDATE and WHERE; row counts', async () => {
		const ins = await q('INSERT INTO bed(id, ward, label) VALUES (@id, @ward, @label)',
			[['id', TYPES.Int, 1], ['ward', TYPES.VarChar, 'ICU'], ['label', TYPES.NVarChar, 'Bed 王']]);
		assert.equal(ins.rowCount, 1);
		const up = await q('UPDATE bed SET label = @l WHERE ward = @w', [['l', TYPES.NVarChar, 'B1'], ['w', TYPES.VarChar, 'ICU']]);
		assert.equal(up.rowCount, 1);
		const r = await q('SELECT id, label FROM bed WHERE ward = @w', [['w', TYPES.NVarChar, 'ICU']]);
		assert.deepEqual(r.rows, [[1, 'B1']]);
	});

	await check('DECIMAL exact: 1.0005 -> 1.001, -2.5675 -> -2.568 (10,3); 2.675 -> 2.68, -0.125 -> -0.13 (10,2)', async () => {
		await q('INSERT INTO amounts(id, three, two) VALUES (1, 1.0005, 2.675), (2, -2.5675, -0.125)');
		const r = await q('SELECT three, two FROM amounts ORDER BY id');
		assert.deepEqual(r.rows, [[1.001, 2.68], [-2.568, -0.13]]);
		assert.deepEqual([r.meta[0].precision, r.meta[0].scale, r.meta[1].scale], [10, 3, 2]);
		// stored rounded, as SQL Server stores it: comparisons find them
		const w = await q('SELECT id FROM amounts WHERE three = 1.001 OR two = -0.13 ORDER BY id');
		assert.deepEqual(w.rows, [[1], [2]]);
	});
	await check('DECIMAL exact: a value past DECIMAL(10,3)\'s precision is 8115 and ends only its statement', async () => {
		const r = await run(c, 'INSERT INTO amounts(id, three) VALUES (5, 12345678.5)\nINSERT INTO amounts(id, three) VALUES (6, 1.5)', [], 'execSqlBatch');
		assert.equal(r.err && r.err.number, 8115);
		const n = await q('SELECT id FROM amounts WHERE id IN (5, 6)');
		assert.deepEqual(n.rows, [[6]]);
	});
	await check('DECIMAL exact: a Float parameter stored in DECIMAL(10,2) rounds half away from zero', async () => {
		await q('INSERT INTO amounts(id, two) VALUES (3, @v)', [['v', TYPES.Float, 1.005]]);
		const r = await q('SELECT two FROM amounts WHERE id = 3');
		assert.deepEqual(r.rows, [[1.01]]);
	});
	await check('DECIMAL exact: SUM of DECIMAL(10,2) values is exact (0.10 + 0.20 = 0.30)', async () => {
		await q('INSERT INTO amounts(id, two) VALUES (10, 0.10), (11, 0.20)');
		const r = await q('SELECT SUM(two) AS s FROM amounts WHERE id >= 10');
		assert.equal(r.meta[0].type.name, 'DecimalN');
		assert.deepEqual(r.rows, [[0.3]]);
	});

	await check('errors: a syntax error anywhere fails the whole batch before any statement runs', async () => {
		const r = await run(c, "INSERT INTO ward(code, name) VALUES ('SX', 'syntax')\nSELEC 1", [], 'execSqlBatch');
		assert.equal(r.err.number, 102);
		assert.equal(r.err.class, 16);
		const n = await q("SELECT COUNT(*) FROM ward WHERE code = 'SX'");
		assert.deepEqual(n.rows, [[0]]);
	});
	await check('errors: 2627 ends its statement (severity 14, INFO 3621) and the batch goes on', async () => {
		const r = await run(c, "INSERT INTO ward VALUES ('ICU', 'again')\nINSERT INTO ward VALUES ('W2', 'after')", [], 'execSqlBatch');
		assert.equal(r.err.number, 2627);
		assert.equal(r.err.class, 14);
		assert.ok(r.infos.some((m) => m.number === 3621 && m.message === 'The statement has been terminated.'));
		const n = await q("SELECT name FROM ward WHERE code = 'W2'");
		assert.deepEqual(n.rows, [['after']]);
	});
	await check('errors: 547 (foreign key) ends its statement with INFO 3621, the next statement runs', async () => {
		const r = await run(c, "INSERT INTO bed(id, ward) VALUES (9, 'NOPE')\nINSERT INTO bed(id, ward) VALUES (10, 'ICU')", [], 'execSqlBatch');
		assert.equal(r.err.number, 547);
		assert.equal(r.err.class, 16);
		assert.ok(r.infos.some((m) => m.number === 3621));
		const n = await q('SELECT id FROM bed WHERE id IN (9, 10)');
		assert.deepEqual(n.rows, [[10]]);
	});
	await check('errors: inside sp_executesql too, 2627 then the next statement', async () => {
		const r = await run(c, "INSERT INTO ward VALUES (@a, 'x'); INSERT INTO ward VALUES (@b, 'y')",
			[['a', TYPES.VarChar, 'ICU'], ['b', TYPES.VarChar, 'W3']]);
		assert.equal(r.err.number, 2627);
		const n = await q("SELECT COUNT(*) FROM ward WHERE code = 'W3'");
		assert.deepEqual(n.rows, [[1]]);
	});
	await check('errors: no such table is 208 with the line of the statement', async () => {
		const r = await run(c, 'SELECT 1\n\nSELECT * FROM nowhere', [], 'execSqlBatch');
		assert.equal(r.err.number, 208);
		assert.equal(r.err.lineNumber, 3);
	});
	await check('errors: a missing parameter is 8178; an unknown procedure is 2812', async () => {
		const r = await run(c, 'SELECT @nope', []);
		assert.equal(r.err.number, 8178);
		const p = await run(c, 'sp_nosuch', [], 'callProcedure');
		assert.equal(p.err.number, 2812);
	});
	await check('errors: the connection is still usable after errors', async () => {
		const r = await q('SELECT 2 AS two');
		assert.deepEqual(r.rows, [[2]]);
	});

	await check('batches: several result sets and row counts', async () => {
		const r = await q("SELECT 1 AS a\nUPDATE ward SET name = name WHERE code = 'ICU'\nSELECT code FROM ward WHERE code IN ('ICU', 'W2') ORDER BY code", [], 'execSqlBatch');
		assert.deepEqual(r.sets, [[[1]], [['ICU'], ['W2']]]);
		assert.deepEqual(r.counts, [1, 1, 2]);
	});
	await check('batches: PRINT is an infoMessage', async () => {
		const r = await q("PRINT 'hello ' || 'Núñez'", [], 'execSqlBatch');
		assert.ok(r.infos.some((m) => m.message === 'hello Núñez'));
	});
	await check('batches: SET FMTONLY ON gives columns and no rows', async () => {
		const r = await q('SET FMTONLY ON SELECT code, name FROM ward SET FMTONLY OFF', [], 'execSqlBatch');
		assert.deepEqual(r.meta.map((m) => m.colName), ['code', 'name']);
		assert.deepEqual(r.rows, []);
	});
	await check('batches: SET PARSEONLY ON parses and runs nothing: syntax errors only, as SQL Server', async () => {
		await q("SET PARSEONLY ON\nDELETE FROM ward\nSELECT nope FROM nowhere\nSET PARSEONLY OFF", [], 'execSqlBatch');
		const n = await q('SELECT COUNT(*) FROM ward');
		assert.ok(n.rows[0][0] >= 3);
		const r = await run(c, 'SET PARSEONLY ON\nSELEC nope\nSET PARSEONLY OFF', [], 'execSqlBatch');
		assert.equal(r.err.number, 102);
		const after = await q('SELECT 7');
		assert.deepEqual(after.rows, [[7]]);
	});
	await check('batches: USE changes the database (databaseChange)', async () => {
		let seen;
		c.once('databaseChange', (db) => { seen = db; });
		await q('USE other', [], 'execSqlBatch');
		assert.equal(seen, 'other');
		await q('USE tdsd', [], 'execSqlBatch');
	});

	await check('transactions: beginTransaction + rollbackTransaction undoes an insert', async () => {
		await tx(c, 'beginTransaction', 't1');
		await q("INSERT INTO ward VALUES ('RB', 'rolled back')");
		await tx(c, 'rollbackTransaction', 't1');
		const n = await q("SELECT COUNT(*) FROM ward WHERE code = 'RB'");
		assert.deepEqual(n.rows, [[0]]);
	});
	await check('transactions: beginTransaction + commitTransaction keeps it', async () => {
		await tx(c, 'beginTransaction');
		await q("INSERT INTO ward VALUES ('CM', 'committed')");
		await tx(c, 'commitTransaction');
		const n = await q("SELECT COUNT(*) FROM ward WHERE code = 'CM'");
		assert.deepEqual(n.rows, [[1]]);
	});
	await check('transactions: saveTransaction (TM request 9) and rollback to the savepoint', async () => {
		await tx(c, 'beginTransaction', 'outer');
		await q("INSERT INTO ward VALUES ('S1', 'kept')");
		await tx(c, 'saveTransaction', 'sp1');
		await q("INSERT INTO ward VALUES ('S2', 'undone')");
		await tx(c, 'rollbackTransaction', 'sp1');
		await tx(c, 'commitTransaction', 'outer');
		const n = await q("SELECT code FROM ward WHERE code IN ('S1', 'S2')");
		assert.deepEqual(n.rows, [['S1']]);
	});
	await check('transactions: SAVE TRANSACTION and ROLLBACK TRANSACTION name in a batch', async () => {
		await q("BEGIN TRAN\nINSERT INTO ward VALUES ('T1', 'kept')\nSAVE TRANSACTION here\nINSERT INTO ward VALUES ('T2', 'undone')\nROLLBACK TRANSACTION here\nCOMMIT", [], 'execSqlBatch');
		const n = await q("SELECT code FROM ward WHERE code IN ('T1', 'T2')");
		assert.deepEqual(n.rows, [['T1']]);
	});
	await check('transactions: connection.transaction() nested uses a savepoint', async () => {
		await new Promise((resolve, reject) => {
			c.transaction((err, done) => {
				if (err) return reject(err);
				run(c, "INSERT INTO ward VALUES ('N1', 'outer')").then(ok).then(() => {
					c.transaction((err2, done2) => {
						if (err2) return reject(err2);
						run(c, "INSERT INTO ward VALUES ('N2', 'inner')").then(ok).then(() => {
							done2(new Error('undo inner'), (e) => {
								if (!e || e.message !== 'undo inner') return reject(e || new Error('no error'));
								done(null, (e3) => (e3 ? reject(e3) : resolve()));
							});
						}, reject);
					});
				}, reject);
			});
		});
		const n = await q("SELECT code FROM ward WHERE code IN ('N1', 'N2')");
		assert.deepEqual(n.rows, [['N1']]);
	});
	await check('transactions: ROLLBACK TRANSACTION to an unknown savepoint is 6401; COMMIT without BEGIN is 3902', async () => {
		const r = await run(c, 'BEGIN TRAN\nROLLBACK TRANSACTION nosuch', [], 'execSqlBatch');
		assert.equal(r.err.number, 6401);
		await q('ROLLBACK', [], 'execSqlBatch');
		const r2 = await run(c, 'COMMIT', [], 'execSqlBatch');
		assert.equal(r2.err.number, 3902);
	});
	await check('transactions: a constraint error inside a transaction leaves it open', async () => {
		await tx(c, 'beginTransaction');
		await q("INSERT INTO ward VALUES ('X1', 'in')");
		const r = await run(c, "INSERT INTO ward VALUES ('ICU', 'dup')");
		assert.equal(r.err.number, 2627);
		await tx(c, 'commitTransaction');
		const n = await q("SELECT COUNT(*) FROM ward WHERE code = 'X1'");
		assert.deepEqual(n.rows, [[1]]);
	});

	const slow = 'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000000) SELECT COUNT(*) FROM n';
	await check('cancel: cancel() is ECANCEL at once and the connection goes on', async () => {
		const start = Date.now();
		const r = await run(c, slow, [], 'execSqlBatch', (req, conn) => setTimeout(() => conn.cancel(), 300));
		assert.equal(r.err && r.err.code, 'ECANCEL');
		assert.ok(Date.now() - start < 4000, `took ${Date.now() - start} ms`);
		const n = await q('SELECT 3');
		assert.deepEqual(n.rows, [[3]]);
	});
	await check('cancel: cancel() while rows stream is ECANCEL and the connection goes on', async () => {
		let rows = 0;
		const r = await run(c, 'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000000) SELECT i FROM n', [], 'execSql',
			(req, conn) => req.on('row', () => { if (++rows === 1) conn.cancel(); }));
		assert.equal(r.err && r.err.code, 'ECANCEL');
		assert.ok(rows < 2000000);
		const n = await q('SELECT 4');
		assert.deepEqual(n.rows, [[4]]);
	});
	await check('cancel: requestTimeout is ETIMEOUT at once and the connection goes on', async () => {
		const c2 = await connect({ options: { requestTimeout: 400 } });
		const start = Date.now();
		const r = await run(c2, slow, [], 'execSqlBatch');
		assert.equal(r.err && r.err.code, 'ETIMEOUT');
		assert.ok(Date.now() - start < 4000, `took ${Date.now() - start} ms`);
		const n = ok(await run(c2, 'SELECT 5'));
		assert.deepEqual(n.rows, [[5]]);
		c2.close();
	});
	const bulk = (rows, columns) => new Promise((resolve) => {
		const bl = c.newBulkLoad('bed', (err, rowCount) => resolve({ err, rowCount }));
		for (const [name, type, opts] of columns)
			bl.addColumn(name, type, opts);
		c.execBulkLoad(bl, rows);
	});
	const bedColumns = [['id', TYPES.Int, { nullable: false }], ['ward', TYPES.VarChar, { length: 8, nullable: false }],
		['label', TYPES.NVarChar, { length: 20, nullable: true }]];
	await check('bulk load: newBulkLoad/execBulkLoad inserts every row, typed, NULLs too', async () => {
		const r = await bulk([[100, 'ICU', 'Bett 王'], [101, 'ICU', null], { id: 102, ward: 'ICU', label: 'three' }], bedColumns);
		assert.equal(r.err, undefined);
		assert.equal(r.rowCount, 3);
		const n = await q('SELECT id, label FROM bed WHERE id >= 100 ORDER BY id');
		assert.deepEqual(n.rows, [[100, 'Bett 王'], [101, null], [102, 'three']]);
	});
	await check('bulk load: a row that breaks a foreign key loads none of them (547)', async () => {
		const r = await bulk([[200, 'ICU', 'ok'], [201, 'NOPE', 'bad']], bedColumns);
		assert.equal(r.err && r.err.number, 547);
		const n = await q('SELECT COUNT(*) FROM bed WHERE id >= 200');
		assert.deepEqual(n.rows, [[0]]);
	});
	await check('bulk load: decimals, dates and GUIDs go in exactly', async () => {
		const r = await new Promise((resolve) => {
			const bl = c.newBulkLoad('kinds', (err, rowCount) => resolve({ err, rowCount }));
			bl.addColumn('id', TYPES.Int, { nullable: false });
			bl.addColumn('dec', TYPES.Decimal, { precision: 10, scale: 2, nullable: true });
			bl.addColumn('d', TYPES.Date, { nullable: true });
			bl.addColumn('dt2', TYPES.DateTime2, { scale: 3, nullable: true });
			bl.addColumn('g', TYPES.UniqueIdentifier, { nullable: true });
			c.execBulkLoad(bl, [[50, 2.68, new Date(Date.UTC(2024, 1, 29)), new Date(Date.UTC(2024, 0, 5, 8, 30, 0, 250)),
				'6f9619ff-8b86-d011-b42d-00c04fc964ff']]);
		});
		assert.equal(r.rowCount, 1);
		const n = await q('SELECT dec, d, dt2, g FROM kinds WHERE id = 50');
		assert.deepEqual(n.rows, [[2.68, new Date(Date.UTC(2024, 1, 29)), new Date(Date.UTC(2024, 0, 5, 8, 30, 0, 250)),
			'6F9619FF-8B86-D011-B42D-00C04FC964FF']]);
	});
	await check('reset: reset() and the connection goes on', async () => {
		await new Promise((resolve, reject) => c.reset((err) => (err ? reject(err) : resolve())));
		const n = await q('SELECT 6');
		assert.deepEqual(n.rows, [[6]]);
	});
	await check('two connections: one holds a result open while the other writes', async () => {
		const c2 = await connect();
		const w = ok(await run(c2, "INSERT INTO ward VALUES ('C2', 'second')"));
		assert.equal(w.rowCount, 1);
		const n = await q("SELECT name FROM ward WHERE code = 'C2'");
		assert.deepEqual(n.rows, [['second']]);
		c2.close();
	});

	c.close();
	console.log(`tedious: ${passed} passed, ${failed} failed`);
	process.exit(failed ? 1 : 0);
}

main().catch((e) => {
	console.log(`not ok tedious: ${e.stack}`);
	process.exit(2);
});
