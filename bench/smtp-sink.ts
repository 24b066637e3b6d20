/**
 * A counting SMTP server for the delivery benchmark, in a process of its own (as a mail server
 * would be, so it does not share the worker's CPU): accepts every message on 127.0.0.1, prints
 * `ready <port>` once listening and `received <n>` when it gets SIGTERM, then exits.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { SMTPServer } from 'smtp-server';

let received = 0;
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  disableReverseLookup: true,
  logger: false,
  onData(stream, _session, callback) {
    stream.on('data', () => {});
    stream.on('end', () => {
      received += 1;
      callback(null, 'ok');
    });
  },
});
server.listen(0, '127.0.0.1', () => {
  const { port } = (server as unknown as { server: Server }).server.address() as AddressInfo;
  process.stdout.write(`ready ${port}\n`);
});
process.once('SIGTERM', () => {
  process.stdout.write(`received ${received}\n`);
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
