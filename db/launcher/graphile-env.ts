/**
 * Grafast reads GRAPHILE_ENV when it is first loaded and, unset, warns on stderr at every start
 * (the launcher's bad-configuration answers are one line). HMS runs it in production mode unless
 * GRAPHILE_ENV says otherwise; imported by db/launcher/graphql.ts before anything of PostGraphile.
 */
process.env.GRAPHILE_ENV ??= 'production';
