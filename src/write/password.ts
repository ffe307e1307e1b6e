import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';

const N = 16384;

/** Passwords are stored only as salted scrypt hashes: `scrypt$N$salt$hash`. */
export function hashPassword(plain: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(plain, salt, 32, { N });
  return `scrypt$${N}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export function verifyPassword(plain: string, stored: string | null): boolean {
  if (!stored) return plain === '';
  const parts = stored.split('$');
  if (parts.length !== 4 || parts[0] !== 'scrypt') return false;
  const n = Number(parts[1]);
  const salt = Buffer.from(parts[2] as string, 'base64');
  const expected = Buffer.from(parts[3] as string, 'base64');
  const actual = scryptSync(plain, salt, expected.length, { N: n });
  return timingSafeEqual(actual, expected);
}

export const MASK = '******';
