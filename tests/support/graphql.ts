/**
 * Helpers for GraphQL tests against the suite's real front (/graphql, PostGraphile in the front's
 * process): gql(query, variables, token) posts a document and answers the HTTP status and body.
 */
import { inject } from 'vitest';

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

/** snake_case table name → the GraphQL connection field (allPatients, allPharmacyDispensings, …). */
export function connectionField(table: string): string {
  const camel = table.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
  const plural = camel.endsWith('s') || camel.endsWith('_log') ? camel : camel;
  return `all${plural[0].toUpperCase()}${plural.slice(1)}`;
}
