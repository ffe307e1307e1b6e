import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { exportQueryOptions, serviceApi } from '../../../src/cli/serve.js';
import { Service } from '../../../src/http/server.js';
import { apiChecker } from '../../helpers/openapi.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-openapi-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('the OpenAPI document', () => {
  const doc = serviceApi();

  it('describes every operation the service answers, and only those', async () => {
    const service = new Service({
      db: join(dir, 'x.db'),
      spoolDir: join(dir, 'spool'),
      maxUpload: 1024,
      maxQueue: 1,
      importOptions: () => assert.fail('not called'),
      bundleOptions: () => assert.fail('not called'),
      exportOptions: (c, f) => exportQueryOptions(join(dir, 'x.db'), c, f),
      auth: true,
      retentionMs: 0,
      log: () => undefined,
      openapi: doc,
    });
    try {
      await service.app.ready();
      assert.deepEqual([...service.operations].sort(), apiChecker(doc).operations().sort());
    } finally {
      await service.app.close();
      service.store.close();
    }
  });

  it('lists the options of each upload as the server takes them', () => {
    const paths = doc.paths as Record<string, Record<string, { parameters?: { name: string }[] }>>;
    const names = (p: string, m: string): string[] => (paths[p]?.[m]?.parameters ?? []).map((x) => x.name);
    assert.ok(names('/v1/import', 'post').includes('keys') && names('/v1/import', 'post').includes('no-stop-on-error'));
    assert.ok(!names('/v1/import', 'post').includes('db'), 'the server\'s own options are not an upload\'s');
    assert.ok(names('/v1/sources/{name}/sync', 'post').includes('incremental'));
    assert.deepEqual(names('/v1/export/{class}', 'get').sort(), ['charset', 'columns', 'format', 'raw', 'separator']);
  });

  it('is what the tests check answers against: a wrong body, status or type fails', () => {
    const api = apiChecker(doc);
    api.check('GET', '/v1/health', 200, 'application/json; charset=utf-8', '{"status":"ok","queued":0}');
    const counts = '{"created":1,"updated":0,"deleted":0,"unchanged":0,"skipped":0,"errors":0}';
    api.check('GET', '/v1/import/abc', 200, 'application/json', `{"state":"processing","line":3,"results":${counts}}`);
    assert.throws(() => api.check('GET', '/v1/import/abc', 200, 'application/json', '{"state":"processing","line":3}'), /does not match/);
    assert.throws(() => api.check('GET', '/v1/health', 200, 'application/json', '{"status":"ok","queued":-1}'), /does not match/);
    assert.throws(() => api.check('GET', '/v1/import/abc', 200, 'application/json', '{"state":"running"}'), /does not match/);
    assert.throws(() => api.check('GET', '/v1/import/abc', 200, 'application/json', '{"state":"done","results":{"created":1}}'), /does not match/);
    assert.throws(() => api.check('POST', '/v1/import', 200, 'application/json', '{"token":"ab"}'), /status 200 is not described/);
    assert.throws(() => api.check('GET', '/v1/export/Person', 200, 'text/html', '<p>'), /content type "text\/html" is not described/);
    assert.throws(() => api.check('GET', '/v1/import/abc', 401, 'application/json', '{"error":{"code":"E_NOPE","message":"x"}}'), /does not match/);
    assert.throws(() => api.check('GET', '/v2/else', 200, 'application/json', '{}'), /not in the OpenAPI document/);
  });
});
