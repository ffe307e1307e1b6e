/**
 * The OpenAPI 3.1 description of the HTTP job service, served at /v1/openapi.json. The
 * options of each endpoint come from the command's own option table (cli/serve.ts passes
 * them in), so the document names what the server accepts; the tests check every answer
 * the server gives against it.
 */
import type { SluiceErrorCode } from '../base/errors.js';

/** An option of an endpoint, as its command line describes it. */
export interface ParamDoc {
  name: string;
  description: string;
  /** a switch: on with no value, 1, true or yes */
  flag: boolean;
}

export interface ApiOptions {
  version: string;
  upload: readonly ParamDoc[];
  sync: readonly ParamDoc[];
  export: readonly ParamDoc[];
}

const ERROR_CODES: readonly SluiceErrorCode[] = [
  'E_USAGE',
  'E_MODEL',
  'E_DB',
  'E_HEADER',
  'E_NOT_FOUND',
  'E_TOO_LARGE',
  'E_QUEUE_FULL',
  'E_AUTH',
  'E_FORBIDDEN',
  'E_INTERNAL',
];

const ROW_STATUSES = ['created', 'updated', 'unchanged', 'deleted', 'skipped', 'error'];

type Json = Record<string, unknown>;

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });

function error(description: string): Json {
  return { description, content: { 'application/json': { schema: ref('Error') } } };
}

const json = (schema: Json, description: string): Json => ({ description, content: { 'application/json': { schema } } });

/** The errors every authenticated route may answer with. */
const AUTH_ERRORS: Json = {
  '401': error('no token, a token that is not valid, or a revoked one (E_AUTH)'),
  '500': error('a bug or a database that cannot be written (E_INTERNAL, E_DB)'),
};

function queryParams(params: readonly ParamDoc[]): Json[] {
  return params.map((p) => ({
    name: p.name,
    in: 'query',
    required: false,
    description: p.description,
    schema: p.flag ? { type: 'string', enum: ['', '1', '0', 'true', 'false', 'yes', 'no'] } : { type: 'string' },
    ...(p.flag ? { allowEmptyValue: true } : {}),
  }));
}

/** A form with the file and the options as fields. */
function formSchema(params: readonly ParamDoc[]): Json {
  return {
    type: 'object',
    required: ['file'],
    properties: {
      file: {
        type: 'string',
        contentMediaType: 'application/octet-stream',
        description:
          'the file to import. Several "file" parts are a bundle, imported as one run (docs/bundles.md): each part\'s file name gives its class (Person.csv, 01-Organization.csv), or a bundle.json part lists them; the other fields apply to every file, and class cannot be given',
      },
      ...Object.fromEntries(params.map((p) => [p.name, { type: 'string', description: p.description }])),
    },
  };
}

/** The body of an upload: a form, or the file itself with the options as query parameters. */
function uploadBody(params: readonly ParamDoc[]): Json {
  const raw = { schema: { type: 'string' } };
  return {
    required: true,
    content: {
      'multipart/form-data': { schema: formSchema(params) },
      'text/csv': raw,
      'text/tab-separated-values': raw,
      'text/plain': raw,
      'application/json': raw,
      'application/x-ndjson': raw,
      'application/octet-stream': raw,
    },
  };
}

function uploadResponses(what: string): Json {
  return {
    '202': json(ref('Accepted'), `${what} is queued; poll GET /v1/import/{token}`),
    '400': error('a bad or unknown option, an unknown class, a form without a file field, an unsupported content type (E_USAGE)'),
    ...AUTH_ERRORS,
    '403': error('a reader, or a class the token may not touch (E_FORBIDDEN)'),
    '413': error('the upload is larger than --max-upload (E_TOO_LARGE)'),
    '429': {
      ...error('--max-queue jobs wait (E_QUEUE_FULL)'),
      headers: { 'Retry-After': { description: 'seconds to wait before trying again', schema: { type: 'string' } } },
    },
  };
}

const JOB_TOKEN: Json = { name: 'token', in: 'path', required: true, description: 'the token POST /v1/import answered with', schema: { type: 'string' } };

const SCHEMAS: Json = {
  Error: {
    type: 'object',
    required: ['error'],
    additionalProperties: false,
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        additionalProperties: false,
        properties: { code: { type: 'string', enum: ERROR_CODES }, message: { type: 'string' } },
      },
    },
  },
  Accepted: {
    type: 'object',
    required: ['token'],
    additionalProperties: false,
    properties: { token: { type: 'string', pattern: '^[0-9a-f]{32}$' } },
  },
  Health: {
    type: 'object',
    required: ['status', 'queued'],
    additionalProperties: false,
    properties: { status: { const: 'ok' }, queued: { type: 'integer', minimum: 0, description: 'jobs waiting for their turn' } },
  },
  Results: {
    type: 'object',
    required: ['created', 'updated', 'deleted', 'unchanged', 'skipped', 'errors'],
    additionalProperties: false,
    properties: Object.fromEntries(['created', 'updated', 'deleted', 'unchanged', 'skipped', 'errors'].map((k) => [k, { type: 'integer', minimum: 0 }])),
  },
  JobState: {
    oneOf: [
      { type: 'object', required: ['state'], additionalProperties: false, properties: { state: { const: 'queued' } } },
      {
        type: 'object',
        required: ['state', 'line', 'results'],
        additionalProperties: false,
        properties: {
          state: { const: 'processing' },
          line: { type: 'integer', minimum: 0, description: 'the last line applied (header = 1); 0 while the job waits for the write lock' },
          results: { ...ref('Results'), description: 'the rows applied so far, by status (not committed yet, unless --chunk-size)' },
        },
      },
      {
        type: 'object',
        required: ['state', 'results'],
        additionalProperties: false,
        properties: {
          state: { const: 'done' },
          results: ref('Results'),
          logfile: { type: 'string', description: 'an import or sync job: its details table' },
          message: { type: 'string', description: 'an undo with force: the conflicts it left as they were' },
        },
      },
      {
        type: 'object',
        required: ['state', 'message', 'results'],
        additionalProperties: false,
        properties: { state: { const: 'error' }, message: { type: 'string' }, results: ref('Results'), logfile: { type: 'string', description: 'there when the run got as far as reading rows' } },
      },
    ],
  },
  Cancelled: {
    type: 'object',
    required: ['state'],
    additionalProperties: false,
    properties: { state: { enum: ['removed', 'cancelling'], description: 'removed: it was queued; cancelling: it runs, and is being rolled back' } },
  },
  Report: {
    type: 'object',
    description: 'the JSON report of sluice import --output json, with every row (unchanged ones too)',
    required: ['class', 'simulate', 'change', 'created', 'updated', 'unchanged', 'deleted', 'skipped', 'errors', 'warnings', 'lines', 'outcome', 'rows'],
    properties: {
      class: { type: 'string' },
      simulate: { type: 'boolean' },
      change: { type: ['integer', 'null'] },
      ...Object.fromEntries(['created', 'updated', 'unchanged', 'deleted', 'skipped', 'errors', 'warnings', 'lines'].map((k) => [k, { type: 'integer', minimum: 0 }])),
      outcome: { enum: ['committed', 'rolled back', 'simulated', 'interrupted', 'failed'] },
      last_committed_line: { type: ['integer', 'null'] },
      stopped: { type: ['string', 'null'] },
      rows: {
        type: 'array',
        items: {
          type: 'object',
          required: ['line', 'status', 'id'],
          additionalProperties: false,
          properties: {
            line: { type: 'integer', minimum: 1, description: "the line the record starts on: from 2 in a CSV file (its header is line 1), from 1 in JSON" },
            status: { enum: ROW_STATUSES },
            id: { type: ['integer', 'null'] },
            changed: { type: 'array', items: { type: 'string' } },
            message: { type: 'string' },
            warnings: { type: 'array', items: { type: 'string' } },
          },
        },
      },
    },
  },
  BundleReport: {
    type: 'object',
    description: 'a bundle job (several files in one form): the JSON report of sluice import --bundle --output json --log, a Report per file with its name',
    required: ['bundle', 'order', 'simulate', 'change', 'outcome', 'created', 'updated', 'unchanged', 'deleted', 'skipped', 'errors', 'warnings', 'lines', 'stopped', 'not_run', 'files'],
    properties: {
      bundle: { type: 'string' },
      order: { type: 'array', description: 'the files in the order they ran', items: { type: 'object', required: ['file', 'class'], properties: { file: { type: 'string' }, class: { type: 'string' } } } },
      simulate: { type: 'boolean' },
      change: { type: ['integer', 'null'] },
      outcome: { enum: ['committed', 'rolled back', 'simulated', 'interrupted', 'failed'] },
      ...Object.fromEntries(['created', 'updated', 'unchanged', 'deleted', 'skipped', 'errors', 'warnings', 'lines'].map((k) => [k, { type: 'integer', minimum: 0 }])),
      elapsed_s: { type: 'number' },
      stopped: { type: ['string', 'null'], description: 'why the run stopped: the file, the line and the message' },
      not_run: { type: 'array', items: { type: 'string' }, description: 'the files the run did not reach' },
      files: { type: 'array', items: { allOf: [ref('Report'), { type: 'object', required: ['file'], properties: { file: { type: 'string' } } }] } },
    },
  },
};

const nullable = (type: string): Json => ({ type: [type, 'null'] });

const RESULTS_OR_NULL: Json = { oneOf: [ref('Results'), { type: 'null' }] };

/** What the import wizard's page calls beside the job API (wizard.ts). */
const WIZARD_SCHEMAS: Json = {
  Classes: {
    type: 'object',
    required: ['role', 'name', 'canImport', 'classes'],
    additionalProperties: false,
    properties: {
      role: { enum: ['admin', 'importer', 'reader'] },
      name: { type: 'string', description: "the token's name" },
      canImport: { type: 'boolean', description: 'false for a reader' },
      classes: {
        type: 'array',
        description: 'the classes of the model the token may touch, as sluice schema --format json describes them',
        items: {
          type: 'object',
          required: ['name', 'label', 'reconciliation', 'attributes', 'exampleHeader'],
          additionalProperties: false,
          properties: {
            name: { type: 'string' },
            label: { type: 'string' },
            reconciliation: { type: 'array', items: { type: 'string' } },
            exampleHeader: { type: 'string' },
            attributes: {
              type: 'array',
              items: {
                type: 'object',
                required: ['code', 'label', 'type', 'mandatory', 'target', 'header'],
                additionalProperties: false,
                properties: {
                  code: { type: 'string' },
                  label: { type: 'string' },
                  type: { type: 'string' },
                  mandatory: { type: 'boolean' },
                  target: nullable('string'),
                  header: { type: 'array', items: { type: 'string' }, description: 'how a header names it (org_id->name for a reference)' },
                },
              },
            },
          },
        },
      },
    },
  },
  Preview: {
    type: 'object',
    description: 'the start of the upload as an import would read it; nothing is written',
    required: ['class', 'format', 'separator', 'separatorDetected', 'qualifier', 'charset', 'charsetFrom', 'suggestedCharset', 'dateFormat', 'suggestedDateFormat', 'columns', 'keys', 'planError', 'rows', 'more', 'headerBytes', 'error'],
    additionalProperties: false,
    properties: {
      class: { type: 'string' },
      format: { enum: ['csv', 'json'] },
      separator: { ...nullable('string'), description: 'as the report names it: , ; tab | (null for JSON, or when the header could not be read)' },
      separatorDetected: { type: 'boolean' },
      qualifier: nullable('string'),
      charset: { type: 'string' },
      charsetFrom: { enum: ['bom', 'default', 'given'] },
      suggestedCharset: nullable('string'),
      dateFormat: { type: 'string' },
      suggestedDateFormat: { ...nullable('string'), description: 'a format under which every date shown parses, when the one used fails on some' },
      columns: {
        type: 'array',
        items: {
          type: 'object',
          required: ['index', 'name', 'mapping', 'error', 'key'],
          additionalProperties: false,
          properties: {
            index: { type: 'integer', minimum: 0 },
            name: { type: 'string' },
            error: { ...nullable('string'), description: 'why the column maps to nothing' },
            key: { ...nullable('string'), description: 'the attribute the column gives as a reconciliation key, when it can be one' },
            mapping: {
              oneOf: [
                { type: 'null' },
                {
                  type: 'object',
                  required: ['kind', 'attribute', 'label', 'type', 'header'],
                  additionalProperties: false,
                  properties: {
                    kind: { enum: ['reserved', 'scalar', 'links', 'ref'] },
                    attribute: { type: 'string' },
                    label: { type: 'string' },
                    type: { type: 'string' },
                    target: { type: 'string' },
                    sub: { type: 'string' },
                    header: { type: 'string' },
                  },
                },
              ],
            },
          },
        },
      },
      keys: { type: 'array', items: { type: 'string' } },
      planError: nullable('string'),
      rows: {
        type: 'array',
        items: {
          type: 'object',
          required: ['line', 'cells', 'error'],
          additionalProperties: false,
          properties: { line: { type: 'integer', minimum: 1 }, cells: { type: 'array', items: { type: 'string' } }, error: nullable('string') },
        },
      },
      more: { type: 'boolean' },
      headerBytes: { ...nullable('integer'), description: 'the bytes the header takes in the file, BOM and line break included' },
      error: {
        oneOf: [
          { type: 'null' },
          {
            type: 'object',
            required: ['code', 'message', 'line'],
            additionalProperties: false,
            properties: { code: { enum: ['E_ENCODING', 'E_MALFORMED'] }, message: { type: 'string' }, line: nullable('integer') },
          },
        ],
      },
    },
  },
  Jobs: {
    type: 'object',
    required: ['jobs'],
    additionalProperties: false,
    properties: {
      jobs: {
        type: 'array',
        items: {
          type: 'object',
          required: ['token', 'kind', 'class', 'state', 'fileName', 'bytes', 'simulate', 'action', 'createdAt', 'startedAt', 'finishedAt', 'results', 'message', 'change', 'undoOf'],
          additionalProperties: false,
          properties: {
            token: { type: 'string', pattern: '^[0-9a-f]{32}$' },
            kind: { enum: ['import', 'sync', 'undo'] },
            class: { type: 'string' },
            state: { enum: ['queued', 'processing', 'done', 'error'] },
            fileName: { type: 'string' },
            bytes: { type: 'integer', minimum: 0 },
            simulate: { type: 'boolean' },
            action: { type: 'string' },
            createdAt: { type: 'string' },
            startedAt: nullable('string'),
            finishedAt: nullable('string'),
            line: { type: 'integer', minimum: 0 },
            results: RESULTS_OR_NULL,
            message: nullable('string'),
            change: { ...nullable('integer'), description: "the run's change record" },
            undoOf: { ...nullable('integer'), description: 'an undo: the change it reverts' },
            logfile: { type: 'string' },
          },
        },
      },
    },
  },
  Changes: {
    type: 'object',
    required: ['changes', 'total'],
    additionalProperties: false,
    properties: {
      total: { type: 'integer', minimum: 0, description: 'the changes there are (of the token\'s classes)' },
      changes: {
        type: 'array',
        items: {
          type: 'object',
          required: ['id', 'user', 'started_at', 'finished_at', 'comment', 'class', 'file', 'action', 'outcome', 'lines', 'created', 'updated', 'unchanged', 'deleted', 'skipped', 'errors', 'warnings', 'undone_by'],
          additionalProperties: false,
          properties: {
            id: { type: 'integer', minimum: 1 },
            user: { type: 'string' },
            started_at: { type: 'string' },
            finished_at: nullable('string'),
            comment: { type: 'string' },
            class: { type: 'string' },
            file: { type: 'string' },
            action: { type: 'string' },
            outcome: { type: 'string' },
            ...Object.fromEntries(['lines', 'created', 'updated', 'unchanged', 'deleted', 'skipped', 'errors', 'warnings'].map((k) => [k, { type: 'integer', minimum: 0 }])),
            undone_by: nullable('integer'),
          },
        },
      },
    },
  },
};

const LIMIT: Json = { name: 'limit', in: 'query', required: false, description: 'how many, most recent first (default 20, at most 200)', schema: { type: 'string', pattern: '^[0-9]+$' } };

const PAGE_HEADERS: Json = {
  'Content-Security-Policy': { schema: { type: 'string' }, description: "default-src 'none'; script-src 'self'; … : no inline script, nothing from elsewhere" },
};

/** The wizard's page and the calls it makes (docs/wizard.md). */
function wizardPaths(o: ApiOptions): Json {
  return {
    '/': {
      get: {
        summary: "the import wizard's page",
        security: [],
        responses: {
          '200': { description: 'the page', headers: PAGE_HEADERS, content: { 'text/html': { schema: { type: 'string' } } } },
          '404': error('the page was not built (E_NOT_FOUND)'),
        },
      },
    },
    '/ui/{file}': {
      parameters: [{ name: 'file', in: 'path', required: true, description: "a file of the wizard's page", schema: { type: 'string' } }],
      get: {
        summary: "a script, style sheet or image of the wizard's page",
        security: [],
        responses: {
          '200': {
            description: 'the file',
            headers: PAGE_HEADERS,
            content: Object.fromEntries(['text/javascript', 'text/css', 'text/html', 'image/svg+xml', 'image/png', 'image/x-icon'].map((t) => [t, { schema: { type: 'string' } }])),
          },
          '404': error('no such file (E_NOT_FOUND)'),
        },
      },
    },
    '/v1/classes': {
      get: {
        summary: 'the classes of the model the token may touch, with their labels and attributes',
        responses: { '200': json(ref('Classes'), 'the classes'), ...AUTH_ERRORS },
      },
    },
    '/v1/preview': {
      post: {
        summary: 'the start of a file as an import with these options would read it: the header mapped column by column, the separator, charset and date format, the first records; nothing is written',
        parameters: [
          ...queryParams(o.upload),
          { name: 'rows', in: 'query', required: false, description: 'how many records to show (default 20, at most 200)', schema: { type: 'string', pattern: '^[0-9]+$' } },
          {
            name: 'truncated',
            in: 'query',
            required: false,
            allowEmptyValue: true,
            description: 'the body is the start of a larger file: its last record may be cut, and is not shown',
            schema: { type: 'string', enum: ['', '1', '0', 'true', 'false', 'yes', 'no'] },
          },
        ],
        requestBody: uploadBody([...o.upload, { name: 'rows', description: 'how many records to show', flag: false }, { name: 'truncated', description: 'the file is the start of a larger one', flag: true }]),
        responses: {
          '200': json(ref('Preview'), 'the preview; a file the run would stop on says where, in error'),
          '400': error('a bad or unknown option, an unknown class, a form without a file field, an unsupported content type (E_USAGE)'),
          ...AUTH_ERRORS,
          '403': error('a reader, or a class the token may not touch (E_FORBIDDEN)'),
          '413': error('a body larger than --max-upload (E_TOO_LARGE)'),
        },
      },
    },
    '/v1/jobs': {
      get: {
        summary: "the recent jobs of the token's classes, newest first",
        parameters: [LIMIT],
        responses: { '200': json(ref('Jobs'), 'the jobs'), '400': error('a bad limit or an unknown option (E_USAGE)'), ...AUTH_ERRORS },
      },
    },
    '/v1/changes': {
      get: {
        summary: "the recent changes of the token's classes, newest first, as sluice changes lists them",
        parameters: [LIMIT],
        responses: { '200': json(ref('Changes'), 'the changes'), '400': error('a bad limit or an unknown option (E_USAGE)'), ...AUTH_ERRORS },
      },
    },
  };
}

export function openApiDocument(o: ApiOptions): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Sluice HTTP job service',
      version: o.version,
      description: 'Uploads queued as import jobs and run one at a time through the engine of sluice import (docs/serve.md).',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a token from sluice token add' } },
      schemas: { ...SCHEMAS, ...WIZARD_SCHEMAS },
    },
    security: [{ bearer: [] }],
    paths: {
      ...wizardPaths(o),
      '/v1/health': {
        get: { summary: 'whether the server runs, and how many jobs wait', security: [], responses: { '200': json(ref('Health'), 'the server runs') } },
      },
      '/v1/openapi.json': {
        get: { summary: 'this document', security: [], responses: { '200': json({ type: 'object' }, 'the OpenAPI document') } },
      },
      '/v1/import': {
        post: {
          summary: 'upload a file to import: a form, or the file as the body with the options as query parameters',
          parameters: queryParams(o.upload),
          requestBody: uploadBody(o.upload),
          responses: uploadResponses('the import'),
        },
      },
      '/v1/import/{token}': {
        parameters: [JOB_TOKEN],
        get: {
          summary: "a job's state",
          responses: { '200': json(ref('JobState'), 'the state'), ...AUTH_ERRORS, '404': error('no job of the token\'s classes has this token (E_NOT_FOUND)') },
        },
        delete: {
          summary: 'cancel a job: a queued one is removed, the running one rolled back',
          responses: {
            '200': json(ref('Cancelled'), 'removed or being cancelled'),
            '400': error('the job has ended (E_USAGE)'),
            ...AUTH_ERRORS,
            '403': error('a reader may not cancel (E_FORBIDDEN)'),
            '404': error('no such job (E_NOT_FOUND)'),
          },
        },
      },
      '/v1/import/{token}/log': {
        parameters: [JOB_TOKEN],
        get: {
          summary: "a finished job's details table, as sluice import --log writes it",
          parameters: [{ name: 'format', in: 'query', required: false, schema: { enum: ['csv', 'json'] }, description: 'csv (default): the details table; json: the JSON report with every row' }],
          responses: {
            '200': {
              description: 'the table',
              content: { 'text/csv': { schema: { type: 'string' } }, 'application/json': { schema: { oneOf: [ref('Report'), ref('BundleReport')] } } },
            },
            '400': error('a bad format (E_USAGE)'),
            ...AUTH_ERRORS,
            '404': error('no such job, or it has no log (yet) (E_NOT_FOUND)'),
          },
        },
      },
      '/v1/sources/{name}/sync': {
        parameters: [{ name: 'name', in: 'path', required: true, description: 'the data source (sluice source add)', schema: { type: 'string' } }],
        post: {
          summary: "upload a data source's feed, synchronized as sluice sync --source NAME --file F does",
          parameters: queryParams(o.sync),
          requestBody: uploadBody(o.sync),
          responses: { ...uploadResponses('the sync'), '404': error('no data source has the name (E_NOT_FOUND)') },
        },
      },
      '/v1/changes/{n}/undo': {
        parameters: [{ name: 'n', in: 'path', required: true, description: 'the change to revert (sluice changes lists them)', schema: { type: 'string', pattern: '^[0-9]+$' } }],
        post: {
          summary: 'queue an undo of the change, as sluice undo --change N runs it; poll it at GET /v1/import/{token}',
          parameters: [
            { name: 'simulate', in: 'query', required: false, allowEmptyValue: true, schema: { type: 'string' }, description: 'do everything, then roll back' },
            { name: 'force', in: 'query', required: false, allowEmptyValue: true, schema: { type: 'string' }, description: 'revert what does not conflict, report the rest' },
            { name: 'comment', in: 'query', required: false, schema: { type: 'string' }, description: "the undo's change tracking comment" },
          ],
          responses: {
            '202': json(ref('Accepted'), 'the undo is queued'),
            '400': error('a bad change id or option (E_USAGE)'),
            ...AUTH_ERRORS,
            '403': error('a reader, or a class the token may not touch (E_FORBIDDEN)'),
            '404': error('no such change (E_NOT_FOUND)'),
            '429': error('--max-queue jobs wait (E_QUEUE_FULL)'),
          },
        },
      },
      '/v1/export/{class}': {
        parameters: [{ name: 'class', in: 'path', required: true, description: 'the class to export', schema: { type: 'string' } }],
        get: {
          summary: 'the class, streamed as sluice export writes it',
          parameters: queryParams(o.export),
          responses: {
            '200': {
              description: 'the objects',
              headers: { 'Content-Disposition': { schema: { type: 'string' }, description: 'attachment; filename="{class}.{csv|tsv|json}"' } },
              content: {
                'text/csv': { schema: { type: 'string' } },
                'text/tab-separated-values': { schema: { type: 'string' } },
                'application/json': { schema: { type: 'array', items: { type: 'object' } } },
              },
            },
            '400': error('a bad or unknown option (E_USAGE)'),
            ...AUTH_ERRORS,
            '403': error('a class the token may not touch (E_FORBIDDEN)'),
            '404': error('no such class (E_NOT_FOUND)'),
          },
        },
      },
    },
  };
}
