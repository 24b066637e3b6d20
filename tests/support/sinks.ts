/**
 * Real servers that receive what the worker sends, for the delivery tests:
 *   - an SMTP server (smtp-server) on 127.0.0.1 that keeps every message it accepts, parsed
 *     (mailparser); it can refuse (a 4xx or 5xx reply) or take its time to answer;
 *   - an HTTP gateway (node:http) that keeps every JSON body posted to it and answers an id, or a
 *     chosen error status.
 *
 * A message counts as delivered when the SMTP server has answered 250 for it, as for a real mail
 * server: one whose client went away before the answer is not kept (holding the answers, the
 * killed-worker test leaves messages in that state when it kills the worker).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface CaughtEmail {
  messageId: string;
  to: string;
  from: string;
  replyTo: string | null;
  subject: string;
  text: string;
}

export interface SmtpSink {
  url: string;
  messages: CaughtEmail[];
  /** null: accept; else refuse every message with this SMTP reply code (e.g. 451, 550). */
  refuseWith: number | null;
  /** Milliseconds before the 250 answer. */
  answerDelayMs: number;
  /** Once this many messages are kept, the next ones get no answer (they wait, unkept) until it is raised or null. */
  answerOnly: number | null;
  /** Messages received whole and waiting for an answer (answerOnly). */
  waiting: number;
  stop(): Promise<void>;
}

export async function startSmtpSink(): Promise<SmtpSink> {
  const closed = new Set<string>();
  const sink: SmtpSink = { url: '', messages: [], refuseWith: null, answerDelayMs: 0, answerOnly: null, waiting: 0, stop: async () => {} };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onClose(session) {
      closed.add(session.id);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', async () => {
        if (sink.refuseWith !== null) {
          const error = Object.assign(new Error(sink.refuseWith >= 500 ? 'mailbox unavailable' : 'try again later'), { responseCode: sink.refuseWith });
          callback(error);
          return;
        }
        const parsed = await simpleParser(Buffer.concat(chunks));
        if (sink.answerDelayMs) await new Promise((resolve) => setTimeout(resolve, sink.answerDelayMs));
        if (sink.answerOnly !== null && sink.messages.length >= sink.answerOnly) {
          sink.waiting += 1;
          while (sink.answerOnly !== null && sink.messages.length >= sink.answerOnly && !closed.has(session.id)) {
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
          sink.waiting -= 1;
        }
        if (closed.has(session.id)) return; // the client went away before the answer: not delivered
        sink.messages.push({
          messageId: parsed.messageId ?? '',
          to: [parsed.to].flat().map((address) => address?.text ?? '').join(', '),
          from: parsed.from?.text ?? '',
          replyTo: parsed.replyTo?.text ?? null,
          subject: parsed.subject ?? '',
          text: parsed.text ?? '',
        });
        callback(null, 'kept');
      });
    },
  });
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = (server as unknown as { server: Server }).server.address() as AddressInfo;
  sink.url = `smtp://127.0.0.1:${port}`;
  sink.stop = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return sink;
}

export interface HttpSink {
  url: string;
  requests: { headers: Record<string, string | string[] | undefined>; body: any }[];
  /** null: answer 200 {"id": "msg-<n>"}; else answer this status. */
  failWith: number | null;
  stop(): Promise<void>;
}

export async function startHttpSink(): Promise<HttpSink> {
  const sink: HttpSink = { url: '', requests: [], failWith: null, stop: async () => {} };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (sink.failWith !== null) {
        response.writeHead(sink.failWith, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'refused by the test gateway' }));
        return;
      }
      sink.requests.push({ headers: request.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: `msg-${sink.requests.length}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  sink.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/send`;
  sink.stop = () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  return sink;
}

/** Polls until `check` answers something truthy, or fails with `what` after timeoutMs. */
export async function waitFor<T>(what: string, check: () => Promise<T> | T, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
