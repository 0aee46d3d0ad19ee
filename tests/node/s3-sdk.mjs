// s3-sdk.mjs: the AWS SDK for JavaScript (a client nobody here wrote) on
// the same store s3-put uses, to read back what s3-put stored.
//
//   node s3-sdk.mjs get BUCKET KEY OUT     the object's bytes into OUT;
//                                          prints "bytes N sse VALUE"
//   node s3-sdk.mjs list BUCKET PREFIX     one key a line
//   node s3-sdk.mjs uploads BUCKET         multipart uploads in progress
//   node s3-sdk.mjs put BUCKET KEY FILE    the SDK's own upload (lib-storage,
//                                          parts of 100 MiB, 4 at once)
//
// S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION as
// for s3-put; a private CA through NODE_EXTRA_CA_CERTS.
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import {
  S3Client, GetObjectCommand, ListObjectsV2Command,
  ListMultipartUploadsCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';

const client = new S3Client({
  endpoint: process.env.S3_ENDPOINT_URL,
  region: process.env.AWS_REGION || 'us-east-1',
  forcePathStyle: true,
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});
const [verb, bucket, a, b] = process.argv.slice(2);

if (verb === 'get') {
  const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: a }));
  await pipeline(r.Body, createWriteStream(b));
  console.log(`bytes ${r.ContentLength} sse ${r.ServerSideEncryption || 'none'}`);
} else if (verb === 'list') {
  let token;
  do {
    const r = await client.send(new ListObjectsV2Command({
      Bucket: bucket, Prefix: a, ContinuationToken: token }));
    for (const o of r.Contents || []) console.log(o.Key);
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
} else if (verb === 'uploads') {
  const r = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  console.log(`uploads ${(r.Uploads || []).length}`);
} else if (verb === 'put') {
  const upload = new Upload({
    client, queueSize: 4, partSize: 100 * 1024 * 1024,
    params: { Bucket: bucket, Key: a, Body: createReadStream(b) },
  });
  await upload.done();
} else {
  console.error('usage: s3-sdk.mjs get|list|uploads|put ...');
  process.exit(64);
}
