/** The OpenAPI document PostgREST derives from the schema follows the caller's privileges. */
import { describe, expect, it } from 'vitest';
import { API_RESOURCES, TABLES } from '../support/access-model.ts';
import { apiFetch, loginToken } from '../support/api.ts';

describe('OpenAPI at /', () => {
  it('lists every app_public table and view for a logged-in member of staff, with the comments as descriptions', async () => {
    const response = await apiFetch('/', { token: await loginToken('reception.ny@hms.test') });
    expect(response.status).toBe(200);
    const document = await response.json();
    expect(Object.keys(document.definitions).sort()).toEqual([...API_RESOURCES].sort());
    expect(document.definitions.staff_directory.description).toMatch(/directory/i);
    for (const table of TABLES) expect(document.paths[`/${table}`], table).toBeDefined();
    expect(document.definitions.patients.description).toMatch(/patient/i);
    expect(document.definitions.patients.properties.mrn.description).toMatch(/number/i);
  });

  it('shows an anonymous caller no table — only login, refresh and the password-link functions', async () => {
    const response = await apiFetch('/');
    expect(response.status).toBe(200);
    const document = await response.json();
    expect(Object.keys(document.definitions ?? {})).toEqual([]);
    expect(Object.keys(document.paths).filter((p) => p !== '/').sort()).toEqual(['/rpc/login', '/rpc/refresh', '/rpc/request_password_reset', '/rpc/set_password_with_token']);
  });
});
