/**
 * `npm run token`: prints a 15-minute access token for the staff role, signed with this
 * installation's JWT secret, for trying the API with curl until the login RPC lands.
 * Development only: it reads the secret from the local configuration.
 */
import { createHmac } from 'node:crypto';
import { loadConfig } from '../launcher/config.ts';

const config = loadConfig();
const now = Math.floor(Date.now() / 1000);
const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
const unsigned = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({ role: config.roles.staff, iat: now, exp: now + 900 })}`;
console.log(`${unsigned}.${createHmac('sha256', config.jwtSecret).update(unsigned).digest('base64url')}`);
