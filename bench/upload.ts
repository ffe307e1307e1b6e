/**
 * Why `sluice serve` is built on fastify: the one thing the framework does on the hot path
 * is stream an upload to the spool file. This measures that path in fastify 5 with
 * @fastify/multipart and in bare node:http with busboy (@fastify/multipart parses with a fork of it),
 * each hashing the file part to a spool file as the service does, on the bench's 1M-row
 * Person file, in one invocation, alternating the servers; and the same file as a raw
 * body. Run: node dist/bench/upload.js [rounds]
 */
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, openAsBlob, rmSync, statSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import multipart from '@fastify/multipart';
import Fastify from 'fastify';
import { defaultFixtureDir } from '../fixtures/generate.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-upload-bench-'));
let n = 0;

/** Hashes on the way to a spool file, as the service's Meter does. */
function spool(): { meter: Transform; file: NodeJS.WritableStream } {
  const hash = createHash('sha256');
  const meter = new Transform({
    transform(chunk: Buffer, _e, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  return { meter, file: createWriteStream(join(dir, `u${n++}`), { flags: 'wx' }) };
}

async function fastifyServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const app = Fastify({ logger: false });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_r, _p, done: (e: Error | null) => void) => done(null));
  await app.register(multipart, { limits: { fileSize: 4 * 1024 ** 3 } });
  app.post('/upload', async (req, reply) => {
    if (req.isMultipart()) {
      for await (const part of req.parts()) {
        if (part.type === 'file') {
          const s = spool();
          await pipeline(part.file, s.meter, s.file);
        }
      }
    } else {
      const s = spool();
      await pipeline(req.raw, s.meter, s.file);
    }
    return reply.code(202).send({ ok: true });
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { url, close: () => app.close() };
}

async function nodeServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const type = req.headers['content-type'] ?? '';
    if (type.startsWith('multipart/form-data')) {
      const bb = busboy({ headers: req.headers, limits: { fileSize: 4 * 1024 ** 3 } });
      const done: Promise<void>[] = [];
      bb.on('file', (_name, file) => {
        const s = spool();
        done.push(pipeline(file, s.meter, s.file));
      });
      await new Promise<void>((resolve, reject) => {
        bb.on('close', resolve);
        bb.on('error', reject);
        req.pipe(bb);
      });
      await Promise.all(done);
    } else {
      const s = spool();
      await pipeline(req, s.meter, s.file);
    }
    res.writeHead(202, { 'content-type': 'application/json' }).end('{"ok":true}');
  };
  const server = createServer((req, res) => void handle(req, res).catch((e: Error) => res.writeHead(500).end(e.message)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address() as { port: number };
  return { url: `http://127.0.0.1:${a.port}`, close: () => new Promise((r) => server.close(() => r())) };
}

async function upload(url: string, file: string, form: boolean): Promise<number> {
  const t = performance.now();
  const blob = await openAsBlob(file);
  let body: FormData | Blob = blob;
  if (form) {
    body = new FormData();
    body.set('class', 'Person');
    body.set('file', blob, 'persons.csv');
  }
  const r = await fetch(`${url}/upload`, { method: 'POST', body, headers: form ? {} : { 'content-type': 'text/csv' } });
  if (r.status !== 202) throw new Error(`upload failed: ${r.status} ${await r.text()}`);
  return performance.now() - t;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  const file = join(defaultFixtureDir(), 'persons-initial-1000000.csv');
  const mb = statSync(file).size / 1024 ** 2;
  const rounds = Number(process.argv[2] ?? 5);
  const servers = { 'fastify 5 + @fastify/multipart': await fastifyServer(), 'node:http + busboy': await nodeServer() };
  const times: Record<string, number[]> = {};
  try {
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? Object.entries(servers) : Object.entries(servers).reverse();
      for (const [name, s] of order) {
        for (const form of [true, false]) {
          const key = `${name}, ${form ? 'multipart' : 'raw body'}`;
          (times[key] ??= []).push(await upload(s.url, file, form));
          rmSync(dir, { recursive: true, force: true });
          mkdirSync(dir);
        }
      }
    }
  } finally {
    for (const s of Object.values(servers)) await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`| upload of ${mb.toFixed(0)} MB, ${rounds} rounds | median s | MB/s |\n|---|---|---|\n`);
  for (const [k, xs] of Object.entries(times)) process.stdout.write(`| ${k} | ${(median(xs) / 1000).toFixed(2)} | ${(mb / (median(xs) / 1000)).toFixed(0)} |\n`);
}

await main();
