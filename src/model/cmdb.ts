/**
 * The built-in `cmdb` model (SPEC §1).
 *
 * It follows iTop's core data model (itop-structure, itop-config-mgmt,
 * authent-local, itop-profiles-itil): the same attribute codes, the same
 * English labels and the same enum codes and labels, so that CSV files written
 * for iTop's CSV import load unchanged. Differences with iTop:
 * - iTop's class hierarchy (Contact → Person/Team, FunctionalCI → … → Server,
 *   User → UserLocal) is flattened: each class carries the attributes it inherits.
 * - iTop models a server's brand, model, OS family and OS version as typologies
 *   (brand_id, model_id, osfamily_id, osversion_id); here they are plain strings
 *   with the codes brand, model, osfamily, osversion.
 * - Link sets point straight at the target class; iTop's link classes
 *   (lnkPersonToTeam, URP_UserProfile, lnkSoftwareInstance) have no attributes of
 *   their own here.
 */
import type { ModelFile } from './types.js';

const ACTIVE_INACTIVE = { active: 'Active', inactive: 'Inactive' };

/**
 * Loose IPv4 or IPv6 literal: four dotted groups of digits, or hex groups around
 * at least one colon (covers `::1`, `fe80::1%eth0`, `::ffff:10.0.0.1`).
 */
export const IP_ADDRESS_PATTERN = '^(?:\\d{1,3}(?:\\.\\d{1,3}){3}|(?=[0-9A-Fa-f.]*:)[0-9A-Fa-f:.]{2,45}(?:%[0-9A-Za-z_.-]+)?)$';

/** iTop's standard profiles, with the descriptions iTop ships. */
const PROFILES: Array<{ name: string; description: string }> = [
  { name: 'Administrator', description: 'Has the rights on everything (bypassing any control)' },
  {
    name: 'Portal user',
    description:
      'Has the rights to access to the user portal. People having this profile will not be allowed to access the standard application, they will be automatically redirected to the user portal.',
  },
  { name: 'Configuration Manager', description: 'Person in charge of the documentation of the managed CIs' },
  { name: 'Service Desk Agent', description: 'Person in charge of creating incident reports' },
  { name: 'Support Agent', description: 'Person analyzing and solving the current incidents' },
  { name: 'Problem Manager', description: 'Person analyzing and solving the current problems' },
  { name: 'Change Implementor', description: 'Person executing the changes' },
  { name: 'Change Supervisor', description: 'Person responsible for the overall change execution' },
  { name: 'Change Approver', description: 'Person who could be impacted by some changes' },
  { name: 'Service Manager', description: 'Person responsible for the service delivered to the [internal] customer' },
  { name: 'Document author', description: 'Any person who could contribute to documentation' },
  {
    name: 'Portal power user',
    description:
      'Users having this profile will have the rights to see all the tickets for a customer in the portal. Must be used in conjunction with other profiles (e.g. Portal User).',
  },
  {
    name: 'REST Services User',
    description:
      "Only users having this profile are allowed to use the REST Web Services (unless 'secure_rest_services' is set to false in the configuration file).",
  },
];

export const CMDB_MODEL: ModelFile = {
  classes: {
    Organization: {
      label: 'Organization',
      attributes: {
        name: { type: 'string', label: 'Name', mandatory: true, maxLength: 255 },
        code: { type: 'string', label: 'Code', maxLength: 255 },
        status: { type: 'enum', label: 'Status', values: { ...ACTIVE_INACTIVE }, default: 'active' },
        parent_id: { type: 'ref', class: 'Organization', label: 'Parent' },
      },
      reconciliation: ['name'],
    },

    Location: {
      label: 'Location',
      attributes: {
        name: { type: 'string', label: 'Name', mandatory: true, maxLength: 255 },
        status: { type: 'enum', label: 'Status', values: { ...ACTIVE_INACTIVE }, default: 'active' },
        org_id: { type: 'ref', class: 'Organization', label: 'Owner organization' },
        address: { type: 'text', label: 'Address' },
        postal_code: { type: 'string', label: 'Postal code', maxLength: 255 },
        city: { type: 'string', label: 'City', maxLength: 255 },
        country: { type: 'string', label: 'Country', maxLength: 255 },
      },
      reconciliation: ['name', 'org_id'],
    },

    Person: {
      label: 'Person',
      attributes: {
        name: { type: 'string', label: 'Last Name', mandatory: true, maxLength: 255 },
        first_name: { type: 'string', label: 'First Name', maxLength: 255 },
        status: { type: 'enum', label: 'Status', values: { ...ACTIVE_INACTIVE }, default: 'active' },
        org_id: { type: 'ref', class: 'Organization', label: 'Organization', mandatory: true },
        email: { type: 'string', label: 'Email', maxLength: 255 },
        phone: { type: 'string', label: 'Phone', maxLength: 255 },
        mobile_phone: { type: 'string', label: 'Mobile phone', maxLength: 255 },
        // iTop stores notify as an enum yes/no whose labels are the codes themselves.
        notify: { type: 'enum', label: 'Notification', values: { yes: 'yes', no: 'no' }, default: 'yes' },
        function: { type: 'string', label: 'Function', maxLength: 255 },
        location_id: { type: 'ref', class: 'Location', label: 'Location' },
        manager_id: { type: 'ref', class: 'Person', label: 'Manager' },
        employee_number: { type: 'string', label: 'Employee number', maxLength: 255 },
      },
      reconciliation: ['name', 'first_name', 'org_id'],
    },

    Team: {
      label: 'Team',
      attributes: {
        name: { type: 'string', label: 'Name', mandatory: true, maxLength: 255 },
        status: { type: 'enum', label: 'Status', values: { ...ACTIVE_INACTIVE }, default: 'active' },
        org_id: { type: 'ref', class: 'Organization', label: 'Organization', mandatory: true },
        email: { type: 'string', label: 'Email', maxLength: 255 },
        phone: { type: 'string', label: 'Phone', maxLength: 255 },
        // Inherited from iTop's Contact, like on Person.
        notify: { type: 'enum', label: 'Notification', values: { yes: 'yes', no: 'no' }, default: 'yes' },
        function: { type: 'string', label: 'Function', maxLength: 255 },
        persons_list: { type: 'links', class: 'Person', label: 'Members', itemKey: 'person_id' },
      },
      reconciliation: ['name', 'org_id'],
    },

    Profile: {
      label: 'Profile',
      attributes: {
        name: { type: 'string', label: 'Name', mandatory: true, unique: true, maxLength: 255 },
        description: { type: 'text', label: 'Description' },
      },
      reconciliation: ['name'],
    },

    UserLocal: {
      label: 'Local user',
      attributes: {
        contactid: { type: 'ref', class: 'Person', label: 'Contact (person)' },
        login: { type: 'string', label: 'Login', mandatory: true, unique: true, maxLength: 255 },
        password: { type: 'password', label: 'Password' },
        language: {
          type: 'enum',
          label: 'Language',
          values: {
            'EN US': 'English',
            'FR FR': 'French',
            'DE DE': 'German',
            'ES CR': 'Spanish',
            'IT IT': 'Italian',
            'PT BR': 'Brazilian',
            'NL NL': 'Dutch',
            'RU RU': 'Russian',
            'JA JP': 'Japanese',
            'ZH CN': 'Chinese',
            'CS CZ': 'Czech',
            'DA DA': 'Danish',
            'HU HU': 'Hungarian',
            'SK SK': 'Slovak',
            'TR TR': 'Turkish',
            'PL PL': 'Polish',
          },
          default: 'EN US',
        },
        status: { type: 'enum', label: 'Status', values: { enabled: 'Enabled', disabled: 'Disabled' }, default: 'enabled' },
        profile_list: { type: 'links', class: 'Profile', label: 'Profiles', itemKey: 'profileid' },
        // Codes, labels and default as in iTop's authent-local module (UserLocal::EXPIRE_*).
        expiration: {
          type: 'enum',
          label: 'Password expiration',
          values: {
            can_expire: 'Can expire',
            never_expire: 'Never expire',
            force_expire: 'Expired',
            otp_expire: 'One-time Password',
          },
          default: 'never_expire',
        },
      },
      reconciliation: ['login'],
    },

    Software: {
      label: 'Software',
      attributes: {
        name: { type: 'string', label: 'Name', mandatory: true, maxLength: 255 },
        vendor: { type: 'string', label: 'Vendor', mandatory: true, maxLength: 255 },
        version: { type: 'string', label: 'Version', mandatory: true, maxLength: 255 },
        type: {
          type: 'enum',
          label: 'Type',
          values: {
            DBServer: 'DB Server',
            Middleware: 'Middleware',
            OtherSoftware: 'Other Software',
            PCSoftware: 'PC Software',
            WebServer: 'Web Server',
          },
        },
      },
      reconciliation: ['name', 'vendor', 'version'],
    },

    Server: {
      label: 'Server',
      attributes: {
        name: { type: 'string', label: 'Name', mandatory: true, maxLength: 255 },
        org_id: { type: 'ref', class: 'Organization', label: 'Organization', mandatory: true },
        // iTop's PhysicalDevice status labels are the lower-case codes.
        status: {
          type: 'enum',
          label: 'Status',
          values: { implementation: 'implementation', obsolete: 'obsolete', production: 'production', stock: 'stock' },
          default: 'production',
        },
        business_criticity: {
          type: 'enum',
          label: 'Business criticality',
          values: { high: 'high', medium: 'medium', low: 'low' },
          default: 'low',
        },
        location_id: { type: 'ref', class: 'Location', label: 'Location' },
        brand: { type: 'string', label: 'Brand', maxLength: 255 },
        model: { type: 'string', label: 'Model', maxLength: 255 },
        serialnumber: { type: 'string', label: 'Serial number', maxLength: 255 },
        asset_number: { type: 'string', label: 'Asset number', maxLength: 255 },
        cpu: { type: 'string', label: 'CPU', maxLength: 255 },
        ram: { type: 'string', label: 'RAM', maxLength: 255 },
        move2production: { type: 'date', label: 'Move to production date' },
        purchase_date: { type: 'date', label: 'Purchase date' },
        end_of_warranty: { type: 'date', label: 'End of warranty' },
        osfamily: { type: 'string', label: 'OS family', maxLength: 255 },
        osversion: { type: 'string', label: 'OS version', maxLength: 255 },
        description: { type: 'text', label: 'Description' },
        managementip: { type: 'string', label: 'Management IP', maxLength: 255, pattern: IP_ADDRESS_PATTERN },
        nb_u: { type: 'integer', label: 'Rack units' },
        software_list: { type: 'links', class: 'Software', label: 'Software', itemKey: 'software_id' },
      },
      reconciliation: ['name', 'org_id'],
    },
  },
  seed: {
    Profile: PROFILES.map((p) => ({ name: p.name, description: p.description })),
  },
};
