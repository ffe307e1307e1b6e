/**
 * The imports of the semantic suite (SPEC §2, §4): a template database (organizations,
 * locations, persons) and, for each point of the suite, the imports it runs in order, each
 * with its file, options and exit code. test/integration/semantics.test.ts checks what each
 * does on SQLite; test/integration/postgres-suites.test.ts that PostgreSQL does the same.
 */
import assert from 'node:assert/strict';
import { type CliResult, type Sandbox } from './cli.js';
import { LOG, type Step, idOf, importText } from './fixtures.js';

export const ORGS = `name,code
IT Department,IT
Sales,SAL
Support,SUP
`;
export const TWINS = `name,code
Twin,T1
Twin,T2
`;
export const LOCATIONS = `name,org_id->name
HQ,IT Department
HQ,Sales
Annex,Sales
`;
export const PERSONS = `source,source_id,name,first_name,org_id->name,email,phone,function
ad,A1,Alpha,Ann,IT Department,ann@x.org,111,Dev
ad,B1,Bravo,Bob,IT Department,bob@x.org,222,Ops
,,Charlie,Cid,Sales,cid@x.org,333,
,,Dup,One,Sales,dup@x.org,,
,,Dup,Two,Sales,dup@x.org,,
`;

/** The database every point but the model's own starts from. */
export const SEMANTICS_TEMPLATE: readonly Step[] = [
  { cls: 'Organization', content: ORGS },
  { cls: 'Organization', content: TWINS, args: ['--keys', 'code'] },
  { cls: 'Location', content: LOCATIONS },
  { cls: 'Person', content: PERSONS },
];

export const DETAILS = ['--output', 'details'];
export const LENIENT = ['--no-stop-on-error', '--output', 'details'];

/** Ids a run's file names, read before it runs (by remember) from the database it runs on. */
export type Vars = Record<string, number>;

export interface Run {
  cls: string;
  file: string;
  /** the file's text; a function of the database (and of what earlier runs remembered) when it names ids */
  content: string | ((db: string, vars: Vars) => string);
  args: readonly string[];
  /** the exit code */
  code: number;
  /** ids to read from the database before the run, for later runs' files */
  remember?: (db: string) => Vars;
}

export interface Scenario {
  /** the model the database is made with (sluice init --model); without it, the template over cmdb */
  model?: object;
  /** the imports, in order */
  runs: Record<string, Run>;
}

function run(cls: string, file: string, content: Run['content'], args: readonly string[] = [], code = 0, remember?: Run['remember']): Run {
  return remember ? { cls, file, content, args, code, remember } : { cls, file, content, args, code };
}

const org = (db: string, name: string): number => idOf(db, 'Organization', 'name', name);
const personId = (db: string, email: string): number => idOf(db, 'Person', 'email', email);

/** Import `r` into the sandbox's database (`log`: the path `{log}` stands for), checking its exit code; `vars` gathers what it remembers. */
export async function play(sb: Sandbox, r: Run, vars: Vars = {}, log = ''): Promise<CliResult> {
  if (r.remember) Object.assign(vars, r.remember(sb.db));
  const content = typeof r.content === 'string' ? r.content : r.content(sb.db, vars);
  const args = r.args.map((a) => (a === LOG ? log : a));
  const res = await importText(sb, r.cls, r.file, content, args);
  assert.equal(res.code, r.code, `sluice import --class ${r.cls} ${args.join(' ')} exited ${String(res.code)}\nstdout:\n${res.stdout}\nstderr:\n${res.stderr}`);
  return res;
}

const GOOD_PERSON = 'name,first_name,org_id->name,email\nNovember,Ned,Sales,ned@x.org\n';
const ACTIONS_FILE = 'name,first_name,org_id->name,email\nAlpha,Ann,IT Department,ann@x.org\nNew,Nina,Sales,nina@x.org\n'.replace('Alpha,Ann', 'Renamed,Ann');
const MIXED = `name,first_name,org_id->name,email
Oscar,Oli,Sales,oli@x.org
Papa,Pam,Sales,pam@x.org
Quebec,Quin,Nowhere,quin@x.org
Romeo,Rae,Sales,rae@x.org
`;
const SIMULATED = `name,first_name,org_id->name,email,phone
Alpha,Ann,IT Department,ann@x.org,999
Bravo,Bob,IT Department,bob@x.org,222
Sim,Sam,Sales,sam@x.org,
Bad,Bea,Nowhere,bea@x.org,
`;
const SIMULATE_ARGS = ['--keys', 'email', '--no-stop-on-error', '--output', 'json', '--log', LOG];
const REPORTED = `name,first_name,org_id->name,email,phone
Alpha,Ann,IT Department,ann@x.org,999
Bravo,Bob,IT Department,bob@x.org,222
Uniform,"Uma, Jr.",Sales,uma@x.org,
Bad,Bea,Nowhere,bea@x.org,
Worse,Wes,Nowhere,wes@x.org,
`;
const REPORT_ARGS = ['--keys', 'email', '--no-stop-on-error'];

/** A model whose labels and codes cross ("Name" is one's code and the other's label), with every value type. */
export const GADGET_MODEL = {
  classes: {
    Gadget: {
      attributes: {
        name: { type: 'string', label: 'Title', mandatory: true },
        title: { type: 'string', label: 'Name' },
        active: { type: 'boolean', label: 'Active', default: true },
        price: { type: 'decimal', label: 'Price' },
        born: { type: 'date', label: 'Born' },
        seen: { type: 'datetime', label: 'Seen' },
      },
      reconciliation: ['name'],
    },
  },
};

export const SEMANTICS = {
  byLabel: {
    runs: {
      p: run(
        'Person',
        'p.csv',
        'NAME,first name,ORGANIZATION->name,eMail,Mobile Phone,notification,STATUS\nDelta,Dan,Sales,dan@x.org,555,NO,inactive\n',
        ['--keys', 'EMAIL', ...DETAILS],
      ),
    },
  },
  andedSubColumns: {
    runs: {
      p: run(
        'Person',
        'p.csv',
        (db) => `name,first_name,org_id->name,email,location_id->name,location_id->org_id
Echo,Eve,Sales,eve@x.org,HQ,${org(db, 'Sales')}
Foxtrot,Fay,Sales,fay@x.org,HQ,${org(db, 'IT Department')}
Golf,Gil,Sales,gil@x.org,HQ,${org(db, 'Support')}
Hotel,Hal,Sales,hal@x.org,Annex,${org(db, 'Sales')}
`,
        ['--keys', 'email', ...LENIENT],
        1,
      ),
    },
  },
  plainReference: {
    runs: { p: run('Person', 'p.csv', (db) => `name,first_name,org_id,email\nLima,Lou,${org(db, 'Support')},lou@x.org\nMike,Max,9999,max@x.org\n`, ['--keys', 'email', ...LENIENT], 1) },
  },
  unknownNames: {
    runs: {
      col: run('Person', 'col.csv', 'name,first_name,org_id->name,shoe_size\nNovember,Ned,Sales,44\n', [], 2),
      sub: run('Person', 'sub.csv', 'name,first_name,org_id->nickname,email\nNovember,Ned,Sales,ned@x.org\n', [], 2),
      cls: run('Persons', 'cls.csv', GOOD_PERSON, [], 2),
      key: run('Person', 'key.csv', GOOD_PERSON, ['--keys', 'badge'], 2),
    },
  },
  matchOrder: {
    runs: {
      p: run(
        'Person',
        'p.csv',
        (db) => `id,source,source_id,name,org_id->name,email,function
${personId(db, 'ann@x.org')},,,Alpha,IT Department,zed@x.org,ById
,,,Charlie,Sales,cid@x.org,ByKey
,ad,B1,Bravo,IT Department,cid@x.org,BySource
,other,,Xray,Sales,xray@x.org,Half
,,,India,Sales,dup@x.org,Amb
99999,,,Nobody,Sales,nobody@x.org,Missing
`,
        ['--keys', 'email', ...LENIENT],
        1,
      ),
    },
  },
  idNeverGivenTwice: {
    runs: {
      a: run('Organization', 'a.csv', 'name\nKilo\nLima\n'),
      d: run('Organization', 'd.csv', 'name\nLima\n', ['--action', 'delete'], 0, (db) => ({ lima: org(db, 'Lima') })),
      b: run('Organization', 'b.csv', 'name\nMike\n'),
      u: run('Organization', 'u.csv', (_db, v) => `id,code\n${String(v.lima)},LIM\n`, LENIENT, 1),
    },
  },
  references: {
    runs: {
      p: run(
        'Person',
        'p.csv',
        `name,first_name,org_id->name,email,location_id->name
Golf,Gus,Twin,gus@x.org,
Hotel,Hal,Nowhere Inc,hal@x.org,
India,Ivy,Sales,ivy@x.org,HQ
Juliet,Jo,Sales,jo@x.org,Annex
Kilo,Kim,,kim@x.org,
`,
        ['--keys', 'email', ...LENIENT],
        1,
      ),
    },
  },
  linkSets: {
    runs: {
      u: run(
        'UserLocal',
        'u.csv',
        'login,profile_list\n' +
          'u1,Portal user|Support Agent\n' +
          'u2,"profileid->name:Service Desk Agent\nProblem Manager"\n' +
          'u3,Portal user|No Such Profile\n' +
          'u4,profileid->name:Administrator|profileid->name:Change Approver\n',
        LENIENT,
        1,
      ),
      u2: run('UserLocal', 'u2.csv', 'login,profile_list\nu1,Document author\nu4,profileid->name:Change Approver|Administrator\n', DETAILS),
    },
  },
  serverValues: {
    runs: {
      s: run(
        'Server',
        's.csv',
        `name,org_id->name,brand,model,nb_u,move2production,business_criticity
  srv1  ,IT Department,  Dell  ,"  R740  ",42,2024-03-05,HIGH
srv2,IT Department,<NULL>,,7,,Medium
srv3,IT Department,HP,,4.5,,low
srv4,IT Department,HP,,,2024-02-30,low
srv5,IT Department,HP,,,,urgent
srv6,IT Department,HP,,12x,,low
`,
        LENIENT,
        1,
      ),
    },
  },
  gadgetValues: {
    model: GADGET_MODEL,
    runs: {
      g: run(
        'Gadget',
        'g.csv',
        `Name,Title,active,price,born,seen
g1,first,yes,3.14,2024-03-05,2024-03-05 14:30:00
g2,,no,-2,,2024-03-05T08:00:00
g3,,true,,,
g4,,false,,,
g5,,1,,,
g6,,0,,,
g7,,Y,,,
g8,,n,,,
g9,,maybe,,,
g10,,,"3,14",,
g11,,,,2024-13-01,
g12,,,,,
`,
        LENIENT,
        1,
      ),
      php: run('Gadget', 'php.csv', 'Name,born\nh1,05/03/2024\nh2,2024-03-05\n', ['--date-format', 'd/m/Y', ...LENIENT], 1),
      strf: run('Gadget', 'strf.csv', 'Name,born\ni1,07/08/2023\n', ['--date-format', '%d/%m/%Y', ...DETAILS]),
    },
  },
  mandatoryAndDefaults: {
    runs: {
      p: run(
        'Person',
        'p.csv',
        `email,function,name,org_id->name
ann@x.org,Lead,Alpha,IT Department
zulu@x.org,,Zulu,Sales
noname@x.org,,,Sales
`,
        ['--keys', 'email', ...LENIENT],
        1,
      ),
    },
  },
  ignoreEmpty: {
    runs: {
      kept: run('Person', 'keep.csv', 'email,phone,function\nann@x.org,,Boss\nbob@x.org,,Ops\n', ['--keys', 'email', '--ignore-empty', ...DETAILS]),
      cleared: run('Person', 'clear.csv', 'email,phone,function\nann@x.org,,Boss\nbob@x.org,,Ops\n', ['--keys', 'email', ...DETAILS]),
    },
  },
  actionInsert: { runs: { p: run('Person', 'p.csv', ACTIONS_FILE, ['--keys', 'email', '--action', 'insert', ...DETAILS]) } },
  actionUpdate: { runs: { p: run('Person', 'p.csv', ACTIONS_FILE, ['--keys', 'email', '--action', 'update', ...DETAILS]) } },
  actionDelete: {
    runs: {
      p: run('Person', 'p.csv', 'email\ncid@x.org\nghost@x.org\n', ['--keys', 'email', '--action', 'delete', ...DETAILS]),
      orgs: run('Organization', 'o.csv', 'name\nSupport\nIT Department\n', ['--action', 'delete', ...LENIENT], 1),
    },
  },
  ownParent: {
    runs: {
      a: run('Organization', 'a.csv', 'name\nSelfish\nParent\n'),
      b: run('Organization', 'b.csv', 'name,parent_id->name\nSelfish,Selfish\nChild,Parent\n'),
      d: run('Organization', 'd.csv', 'name\nSelfish\nParent\n', ['--action', 'delete', ...LENIENT], 1),
    },
  },
  stopOnError: { runs: { p: run('Person', 'p.csv', MIXED, ['--keys', 'email'], 3) } },
  noStopOnError: { runs: { p: run('Person', 'p.csv', MIXED, ['--keys', 'email', ...LENIENT], 1) } },
  chunks: {
    runs: {
      p: run(
        'Person',
        'p.csv',
        `name,first_name,org_id->name,email
C1,A,Sales,c1@x.org
C2,A,Sales,c2@x.org
C3,A,Sales,c3@x.org
C4,A,Sales,c4@x.org
C5,A,Sales,c5@x.org
C6,A,Nowhere,c6@x.org
C7,A,Sales,c7@x.org
`,
        ['--keys', 'email', '--chunk-size', '2'],
        3,
      ),
    },
  },
  simulate: {
    runs: {
      sim: run('Person', 'p.csv', SIMULATED, [...SIMULATE_ARGS, '--simulate'], 1),
      real: run('Person', 'p.csv', SIMULATED, SIMULATE_ARGS, 1),
    },
  },
  changeTracking: {
    runs: {
      p: run(
        'Person',
        'tracked.csv',
        'name,first_name,org_id->name,email,phone\nAlpha,Ann,IT Department,ann@x.org,999\nBravo,Bob,IT Department,bob@x.org,222\nTango,Tia,Sales,tia@x.org,444\n',
        ['--keys', 'email', '--comment', 'nightly HR feed'],
      ),
    },
  },
  reportSummary: { runs: { p: run('Person', 'p.csv', REPORTED, [...REPORT_ARGS, '--log', LOG], 1) } },
  reportDetails: { runs: { p: run('Person', 'p.csv', REPORTED, [...REPORT_ARGS, ...DETAILS], 1) } },
  reportJson: { runs: { p: run('Person', 'p.csv', REPORTED, [...REPORT_ARGS, '--output', 'json'], 1) } },
  reportRetcode: { runs: { p: run('Person', 'p.csv', REPORTED, [...REPORT_ARGS, '--output', 'retcode'], 1) } },
} satisfies Record<string, Scenario>;

/** The reports suite's file, for what its tests check of it. */
export const REPORTED_CSV = REPORTED;
