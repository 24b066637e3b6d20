-- Run by graphile-migrate after `watch` applies a change to current/ (.gmrc afterCurrent):
-- PostgREST listens on the `pgrst` channel and reloads its schema cache, so the change is
-- served at once. Without a PostgREST listening, the notification is simply dropped.
notify pgrst, 'reload schema';
