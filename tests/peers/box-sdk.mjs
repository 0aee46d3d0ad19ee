// box-sdk.mjs: Box's own TypeScript SDK (box-typescript-sdk-gen, a client
// nobody here wrote) against tests/box-emulator. One line a check,
// "ok N - what" or "not ok N - what: why"; exits 1 when any failed.
//
// Reads BOX_CONFIG_FILE, BOX_API_URL, BOX_UPLOAD_URL (the emulator's) and
// BOX_CTL (a command that runs "box-emulator ctl"); the test CA comes in
// through NODE_EXTRA_CA_CERTS.
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';

const require = createRequire(new URL('../node/package.json', import.meta.url));
const sdk = require('box-typescript-sdk-gen');
const { BoxClient, BoxJwtAuth, JwtConfig } = sdk;

const api = process.env.BOX_API_URL;
const upload = process.env.BOX_UPLOAD_URL;
const baseUrls = { baseUrl: api, uploadUrl: upload + '/api', oauth2Url: api + '/oauth2' };

let number = 0;
let failed = 0;
async function check(what, fn) {
  number++;
  try {
    await fn();
    console.log(`ok ${number} - ${what}`);
  } catch (e) {
    failed++;
    const why = (e && e.responseInfo)
      ? `${e.responseInfo.statusCode} ${e.responseInfo.code || ''} ${e.message.split('\n')[0]}`
      : String(e && e.message ? e.message.split('\n')[0] : e);
    console.log(`not ok ${number} - ${what}: ${why}`);
  }
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}
async function status(promise) {
  try {
    await promise;
    return 'no error';
  } catch (e) {
    if (e && e.responseInfo) return e.responseInfo;
    throw e;
  }
}
function ctl(...args) {
  return execFileSync(process.env.BOX_CTL_PY, [process.env.BOX_CTL, 'ctl', ...args],
    { encoding: 'utf8' });
}
function sha1(buf) {
  return createHash('sha1').update(buf).digest('hex');
}
async function bytesOf(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}
function clientFor(config) {
  const auth = new BoxJwtAuth({ config });
  return new BoxClient({ auth }).withCustomBaseUrls(baseUrls);
}
function state() {
  return JSON.parse(ctl('state'));
}

const config = JwtConfig.fromConfigFile(process.env.BOX_CONFIG_FILE);
const client = clientFor(config);
let folderId;
let fileId;

await check('token: JWT login with the app\'s box_config.json (RS256, no kid)', async () => {
  const token = await client.auth.retrieveToken(client.networkSession);
  assert(token.accessToken && token.accessToken.length > 10, 'no access token');
});

for (const algorithm of ['RS384', 'RS512']) {
  await check(`token: ${algorithm} assertion accepted`, async () => {
    const c = new JwtConfig({
      clientId: config.clientId, clientSecret: config.clientSecret,
      jwtKeyId: config.jwtKeyId, privateKey: config.privateKey,
      privateKeyPassphrase: config.privateKeyPassphrase,
      enterpriseId: config.enterpriseId, algorithm,
    });
    const other = clientFor(c);
    const token = await other.auth.retrieveToken(other.networkSession);
    assert(token.accessToken, 'no access token');
  });
}

await check('token: renewed after a 401 (expired token), the call then succeeds', async () => {
  const before = state().tokens_issued;
  ctl('expire-tokens');
  const root = await client.folders.getFolderById('0');
  assert(root.id === '0', 'root folder not returned');
  assert(state().tokens_issued === before + 1, 'no new token was fetched');
});

await check('401 carries the ClientError JSON body beside WWW-Authenticate', async () => {
  const r = await fetch(api + '/2.0/folders/0', { headers: { Authorization: 'Bearer nope' } });
  assert(r.status === 401, `status ${r.status}`);
  assert((r.headers.get('www-authenticate') || '').startsWith('Bearer '), 'no WWW-Authenticate');
  const body = await r.json();
  assert(body.type === 'error' && body.status === 401 && typeof body.code === 'string', 'not a ClientError');
});

await check('folders: create, then read it back', async () => {
  const f = await client.folders.createFolder({ name: 'sdk-checks', parent: { id: '0' } });
  folderId = f.id;
  const g = await client.folders.getFolderById(folderId);
  assert(g.name === 'sdk-checks', 'wrong name');
});

await check('conflicts: a second folder of that name is 409, context_info.conflicts an array naming it', async () => {
  const r = await status(client.folders.createFolder({ name: 'SDK-checks', parent: { id: '0' } }));
  assert(r.statusCode === 409, `status ${r.statusCode}`);
  // this SDK keeps the code's JSON quotes: compare the text inside
  assert(String(r.code).replace(/"/g, '') === 'item_name_in_use', `code ${r.code}`);
  const conflicts = r.contextInfo && r.contextInfo.conflicts;
  assert(Array.isArray(conflicts) && conflicts[0].id === folderId, 'conflicts not an array naming the folder');
});

const content = Buffer.from('mrn,dob\nM1,1950-01-02\nM2,1961-07-30\n');
await check('preflight: a new name passes; an existing one is 409', async () => {
  const u = await client.uploads.preflightFileUploadCheck({ name: 'a.csv', size: content.length, parent: { id: folderId } });
  assert(u.uploadUrl, 'no upload_url');
});

await check('upload: a file, its SHA-1 as Box reports it', async () => {
  const files = await client.uploads.uploadFile({
    attributes: { name: 'a.csv', parent: { id: folderId } },
    file: Readable.from(content),
  });
  const f = files.entries[0];
  fileId = f.id;
  assert(f.sha1 === sha1(content), 'sha1 differs');
  const r = await status(client.uploads.preflightFileUploadCheck({ name: 'a.csv', size: 1, parent: { id: folderId } }));
  assert(r.statusCode === 409, `preflight of an existing name: ${r.statusCode}`);
});

const v2 = Buffer.from('mrn,dob\nM1,1950-01-02\n');
await check('version upload: without If-Match, with the current etag, and a stale If-Match is 412', async () => {
  const files = await client.uploads.uploadFileVersion(fileId, {
    attributes: { name: 'a.csv' }, file: Readable.from(v2) });
  const etag = files.entries[0].etag;
  assert(files.entries[0].sha1 === sha1(v2), 'new version sha1 differs');
  const stale = await status(client.uploads.uploadFileVersion(fileId,
    { attributes: { name: 'a.csv' }, file: Readable.from(content) },
    { headers: { ifMatch: String(Number(etag) - 1) } }));
  assert(stale.statusCode === 412, `stale If-Match: ${stale.statusCode}`);
  const again = await client.uploads.uploadFileVersion(fileId,
    { attributes: { name: 'a.csv' }, file: Readable.from(v2) },
    { headers: { ifMatch: etag } });
  assert(again.entries[0].etag !== etag, 'etag did not move');
});

await check('listing: offset pages and marker pages see every item once; limit 5000 is clamped to 1000', async () => {
  for (let i = 0; i < 5; i++) {
    await client.uploads.uploadFile({
      attributes: { name: `p${i}.txt`, parent: { id: folderId } },
      file: Readable.from(Buffer.from(`page ${i}\n`)) });
  }
  const byOffset = [];
  for (let offset = 0; ; offset += 2) {
    const page = await client.folders.getFolderItems(folderId, { queryParams: { offset, limit: 2 } });
    byOffset.push(...page.entries.map((e) => e.name));
    if (offset + 2 >= page.totalCount) break;
  }
  const byMarker = [];
  let marker;
  do {
    const page = await client.folders.getFolderItems(folderId,
      { queryParams: { usemarker: true, limit: 2, ...(marker ? { marker } : {}) } });
    byMarker.push(...page.entries.map((e) => e.name));
    marker = page.nextMarker;
  } while (marker);
  const want = ['a.csv', 'p0.txt', 'p1.txt', 'p2.txt', 'p3.txt', 'p4.txt'];
  assert(JSON.stringify(byOffset) === JSON.stringify(want), `offset pages: ${byOffset}`);
  assert(JSON.stringify(byMarker) === JSON.stringify(want), `marker pages: ${byMarker}`);
  const big = await client.folders.getFolderItems(folderId, { queryParams: { limit: 5000 } });
  assert(big.limit === 1000, `limit ${big.limit}`);
});

await check('download: the whole file, and a range (206, the bytes asked for)', async () => {
  const whole = await bytesOf(await client.downloads.downloadFile(fileId));
  assert(whole.equals(v2), 'whole download differs');
  const part = await bytesOf(await client.downloads.downloadFile(fileId, { headers: { range: 'bytes=4-9' } }));
  assert(part.equals(v2.subarray(4, 10)), `range gave ${JSON.stringify(part.toString())}`);
});

await check('upload session: status and list_parts served while parts go up; abort removes it', async () => {
  const size = 20000000;
  const s = await client.chunkedUploads.createFileUploadSession({ folderId, fileSize: size, fileName: 'aborted.bin' });
  const partSize = s.partSize;
  const part = Buffer.alloc(partSize, 7);
  await client.chunkedUploads.uploadFilePart(s.id, Readable.from(part), {
    digest: 'sha=' + createHash('sha1').update(part).digest('base64'),
    contentRange: `bytes 0-${partSize - 1}/${size}`,
  });
  const st = await client.chunkedUploads.getFileUploadSessionById(s.id);
  assert(st.numPartsProcessed === 1, `num_parts_processed ${st.numPartsProcessed}`);
  const parts = await client.chunkedUploads.getFileUploadSessionParts(s.id);
  assert(parts.totalCount === 1 && parts.entries[0].offset === 0 && parts.entries[0].size === partSize,
    'list_parts does not show the part');
  await client.chunkedUploads.deleteFileUploadSessionById(s.id);
  const gone = await status(client.chunkedUploads.getFileUploadSessionById(s.id));
  assert(gone.statusCode === 404, `after abort: ${gone.statusCode}`);
});

await check('chunked upload through the SDK\'s own big-file call: committed, SHA-1 as sent', async () => {
  const size = 21 * 1000 * 1000 + 12345;
  const data = Buffer.alloc(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + 7) & 255;
  const f = await client.chunkedUploads.uploadBigFile(Readable.from(data), 'big.bin', size, folderId);
  assert(f.sha1 === sha1(data), 'sha1 differs');
  const back = await bytesOf(await client.downloads.downloadFile(f.id));
  assert(back.equals(data), 'content differs');
});

await check('delete: a stale If-Match is 412 and keeps the file; the current etag deletes it', async () => {
  const f = await client.files.getFileById(fileId);
  const stale = await status(client.files.deleteFileById(fileId, { headers: { ifMatch: String(Number(f.etag) + 5) } }));
  assert(stale.statusCode === 412, `stale: ${stale.statusCode}`);
  await client.files.getFileById(fileId);
  await client.files.deleteFileById(fileId, { headers: { ifMatch: f.etag } });
  const gone = await status(client.files.getFileById(fileId));
  assert(gone.statusCode === 404, `after delete: ${gone.statusCode}`);
});

await check('429 with Retry-After: the emulator says when; the SDK asks again and the call succeeds', async () => {
  ctl('fault', JSON.stringify({ method: 'GET', path: '^/2.0/folders/0$', status: 429, retry_after: 1, count: 1 }));
  const token = await client.auth.retrieveToken(client.networkSession);
  const raw = await fetch(api + '/2.0/folders/0', { headers: { Authorization: 'Bearer ' + token.accessToken } });
  assert(raw.status === 429 && raw.headers.get('retry-after') === '1', `raw: ${raw.status} ${raw.headers.get('retry-after')}`);
  assert((await raw.json()).code === 'rate_limit_exceeded', 'not a rate_limit_exceeded ClientError');
  // and through the SDK (which reads 'Retry-After' from headers that fetch
  // lowercased, so it backs off by its own clock, in milliseconds)
  ctl('fault', JSON.stringify({ method: 'GET', path: '^/2.0/folders/0$', status: 429, retry_after: 1, count: 1 }));
  const root = await client.folders.getFolderById('0');
  assert(root.id === '0', 'no folder');
  const log = state().log.filter((e) => e.path === '/2.0/folders/0').map((e) => e.status);
  assert(JSON.stringify(log.slice(-3)) === '[429,429,200]', `log ${JSON.stringify(log.slice(-3))}`);
});

console.log(`1..${number}`);
process.exit(failed ? 1 : 0);
