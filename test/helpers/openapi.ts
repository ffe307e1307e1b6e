/**
 * Checks a real answer of `sluice serve` against the OpenAPI document it serves: the path
 * and method are described, the status is one the operation lists, the content type one the
 * status lists, and a JSON body valid against its schema.
 */
import assert from 'node:assert/strict';
import { Ajv2020 } from 'ajv/dist/2020.js';

type Json = Record<string, unknown>;

export interface ApiChecker {
  /** The operations the document describes, as "GET /v1/import/{token}". */
  operations(): string[];
  check(method: string, url: string, status: number, contentType: string | null, body: string): void;
}

const pointer = (...parts: string[]): string => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

export function apiChecker(doc: Json): ApiChecker {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema(doc, 'api');
  const paths = doc.paths as Record<string, Record<string, Json>>;
  // Literal paths first, so /v1/import is not taken for a template.
  const templates = Object.keys(paths)
    .sort((a, b) => Number(a.includes('{')) - Number(b.includes('{')))
    .map((t) => ({ t, re: new RegExp(`^${t.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`) }));

  return {
    operations: () => Object.entries(paths).flatMap(([p, ops]) => Object.keys(ops).filter((m) => m !== 'parameters').map((m) => `${m.toUpperCase()} ${p}`)),
    check(method, url, status, contentType, body) {
      const path = new URL(url, 'http://x').pathname;
      const where = `${method} ${path} → ${status}`;
      const template = templates.find(({ re }) => re.test(path))?.t;
      let schemaRef: string;
      if (template === undefined) {
        // A route the service does not have: the one answer it gives is a 404 in the error shape.
        assert.equal(status, 404, `${where}: not in the OpenAPI document`);
        schemaRef = 'api#/components/schemas/Error';
      } else {
        const op = paths[template]?.[method.toLowerCase()] as Json | undefined;
        if (op === undefined) {
          assert.equal(status, 404, `${where}: ${method} is not described for ${template}`);
          schemaRef = 'api#/components/schemas/Error';
        } else {
          const responses = op.responses as Record<string, Json>;
          const response = responses[String(status)];
          assert.ok(response, `${where}: status ${status} is not described (described: ${Object.keys(responses).join(', ')})`);
          const content = response.content as Record<string, Json> | undefined;
          const type = (contentType ?? '').split(';')[0]?.trim() ?? '';
          assert.ok(content?.[type], `${where}: content type "${type}" is not described (described: ${Object.keys(content ?? {}).join(', ')})`);
          if (type !== 'application/json') return;
          schemaRef = `api#${pointer('', 'paths', template, method.toLowerCase(), 'responses', String(status), 'content', type, 'schema')}`;
        }
      }
      const validate = ajv.getSchema(schemaRef) ?? ajv.compile({ $ref: schemaRef });
      let value: unknown;
      try {
        value = JSON.parse(body);
      } catch {
        assert.fail(`${where}: the body is not JSON: ${body.slice(0, 200)}`);
      }
      assert.ok(validate(value), `${where}: the body does not match the OpenAPI document: ${ajv.errorsText(validate.errors)}\n${body.slice(0, 400)}`);
    },
  };
}
