/*
 * GraphQL and the front's rate limits (issue 10 §1, §2): two refusals of the front's own, as rows
 * of the one mapping (app_hidden.raw_errors, source 'front'), so REST and GraphQL answer them with
 * registered codes:
 *   - rate_limited: too many calls of an authentication RPC (login, refresh,
 *     request_password_reset) from one client address or naming one email — 429 HMS_RATE_LIMITED
 *     (new), with Retry-After;
 *   - token_invalid: a bearer token GraphQL refuses before the database (tampered, signed with
 *     another key, expired, another audience) — 401 HMS_SESSION_INVALID, PostgREST's PGRST301.
 */
select app_hidden.register_error_codes('front', $json$[
  {"code": "HMS_RATE_LIMITED", "http_status": 429, "meaning": "Too many calls of the authentication RPCs (login, refresh, request_password_reset, over REST or GraphQL) from one client address or for one email within the window (HMS_AUTH_RATE_LIMIT_*); details.retry_after_seconds and a Retry-After header."}
]$json$);

insert into app_hidden.raw_errors (raw_code, upstream_status, source, code, message, keep_details) values
  ('rate_limited', null, 'front', 'HMS_RATE_LIMITED', 'Too many attempts from this address or for this email: please wait a moment and try again.', false),
  ('token_invalid', null, 'front', 'HMS_SESSION_INVALID', 'The access token is not valid (altered, signed with another key, expired or for another audience): log in again.', false)
on conflict do nothing;
