/** The files of iTop's demo as a bundle: the bundle tests' inputs, on SQLite and on PostgreSQL. */
import { ITOP_ORGS_CSV } from './fixtures.js';

export const LOCATIONS = 'Name,Owner organization->Name,City\nParis,IT Department,Paris\nNohant,My Company/Department,Nohant-Vic\n';

export const PEOPLE = `Last Name,Status,Organization->Name,Location->Name,Email,Notification,First Name
"Flaubert","Active","IT Department","Paris","gustave@example.com","yes","Gustave"
"Sand","Active","My Company/Department","Nohant","george@example.com","no","George"
`;

export const LOGINS = `Contact (person)->Email,Login,Language,Password,Profiles
"gustave@example.com","support","EN US",1234,profileid->name:Configuration Manager|profileid->name:Change Supervisor
"","portal","EN US",1234,profileid->name:Portal user
`;

/** The demo classes, each file's prefix the reverse of the order they must run in. */
export const DEMO: Record<string, string> = {
  '1-UserLocal.csv': LOGINS,
  '2-Person.csv': PEOPLE,
  '3-Location.csv': LOCATIONS,
  '4-Organization.csv': ITOP_ORGS_CSV,
};

/** A manifest bundle: its files in the manifest's order, each with options of its own (a separator, keys, --ignore-empty). */
export const MANIFEST_BUNDLE: Record<string, string> = {
  'orgs.txt': 'name;code\nSales;S1\nIT;I1\n',
  'people.csv': 'email,name,first_name,org_id->name,phone\nvh@x,Hugo,Victor,Sales,\nzola@x,Zola,Emile,IT,+33 1\n',
  'bundle.json': JSON.stringify({
    files: [
      { file: 'people.csv', class: 'Person', keys: ['email'], 'ignore-empty': true },
      { file: 'orgs.txt', class: 'Organization', separator: ';' },
    ],
  }),
};
