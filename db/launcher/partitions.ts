import pg from 'pg';

/**
 * The monthly partitions of the append-heavy tables for this month and the next three (migrations
 * create them once; a database started months later needs the new months before their rows come).
 */
export async function createPartitionsAhead(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`select app_hidden.create_partitions_ahead(3)`);
  } finally {
    await client.end();
  }
}
