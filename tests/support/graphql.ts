/**
 * Helpers for GraphQL tests against the suite's real front (/graphql, PostGraphile in the front's
 * process): gql(query, variables, token) posts a document and answers the HTTP status and body.
 */
import { inject } from 'vitest';
import '../../db/launcher/graphile-env.ts';
import { camelCase, pluralize, singularize, upperCamelCase } from 'postgraphile/graphile-build';

export interface GqlAnswer {
  status: number;
  body: { data?: any; errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string; status?: number; details?: string | null; hint?: string | null } }[] };
  headers: Headers;
}

export async function gql(query: string, variables: Record<string, unknown> = {}, token?: string, url = `${inject('stack').frontUrl}/graphql`, headers: Record<string, string> = {}): Promise<GqlAnswer> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}), ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {}, headers: response.headers };
}

/** The data of an answer without errors; throws with the errors otherwise. */
export async function gqlData(query: string, variables: Record<string, unknown> = {}, token?: string): Promise<any> {
  const answer = await gql(query, variables, token);
  if (answer.body.errors?.length || answer.status !== 200) throw new Error(`GraphQL answered ${answer.status}: ${JSON.stringify(answer.body.errors ?? answer.body)}`);
  return answer.body.data;
}

export const LOGIN = `mutation Login($email: String!, $password: String!) { login(input: { email: $email, password: $password }) { result } }`;

/** Logs in through the GraphQL login mutation; the access token. */
export async function gqlLogin(email: string, password = 'Admin@123'): Promise<string> {
  const data = await gqlData(LOGIN, { email, password });
  return data.login.result.access_token;
}

/**
 * The GraphQL names of a table or view of app_public, by PostGraphile's own inflection (the
 * `pluralize` rules it uses: doctor_leaves → DoctorLeaf, staff_directory → allStaffDirectories):
 * the node type, and the connection field on Query.
 */
export function graphqlType(table: string): string {
  return upperCamelCase(singularize(table));
}
export function connectionField(table: string): string {
  return `all${upperCamelCase(pluralize(singularize(table)))}`;
}

/** camelCase of a column (created_at → createdAt), as PostGraphile names fields. */
export const fieldName = (column: string): string => camelCase(column);

/** Every connection field of Query (`allPatients`, …) with the node type it lists, from introspection. */
export async function queryConnections(token: string): Promise<Map<string, string>> {
  const data = await gqlData(`{ __type(name: "Query") { fields { name type { name kind ofType { name } } } } }`, {}, token);
  const connections = new Map<string, string>();
  for (const field of data.__type.fields as { name: string; type: { name: string | null; ofType: { name: string } | null } }[]) {
    const typeName = field.type.name ?? field.type.ofType?.name ?? '';
    if (field.name.startsWith('all') && typeName.endsWith('Connection')) connections.set(field.name, typeName.slice(0, -'Connection'.length));
  }
  return connections;
}
