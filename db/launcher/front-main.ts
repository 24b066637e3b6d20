/**
 * The front alone (`npm run front`, docker-compose's `front` service): the one origin in front
 * of a PostgREST that runs elsewhere (HMS_POSTGREST_URL), on an already prepared database. Stops
 * on SIGINT/SIGTERM. `npm start` runs the same front inside the launcher (db/launcher/stack.ts).
 */
import { ConfigError, loadConfig } from './config.ts';
import { startFront } from './front.ts';

try {
  const front = await startFront({ config: loadConfig(), log: (line) => console.error(line) });
  console.log(`hms: front on ${front.url}/ (REST at ${front.apiUrl}/)`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void front.stop().then(() => process.exit(0)));
} catch (error) {
  console.error(`hms: ${(error as Error).message}`);
  process.exit(error instanceof ConfigError ? 2 : 1);
}
