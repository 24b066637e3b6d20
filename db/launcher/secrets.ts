import pg from 'pg';

/**
 * The JWT secret is configuration (HMS_JWT_SECRET or .hms/jwt-secret) that the database needs to
 * sign tokens in SQL: it is written on every start into app_private, which no API role can read.
 */
export async function storeJwtSecret(databaseUrl: string, secret: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(
      `insert into app_private.instance_settings (key, value) values ('jwt_secret', $1)
       on conflict (key) do update set value = excluded.value, updated_at = now()
       where app_private.instance_settings.value is distinct from excluded.value`,
      [secret],
    );
  } finally {
    await client.end();
  }
}
