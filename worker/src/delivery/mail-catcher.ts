/**
 * The local mail catcher: what `npm start` sends e-mail to when HMS_SMTP_URL is unset, the way
 * Mailpit or MailHog serve developers. A real SMTP server (smtp-server) on 127.0.0.1 that accepts
 * every message and keeps it, as received, in <outbox>/mail/<time>-<id>.eml — nothing leaves the
 * machine. listCaughtMail() reads them back for the console's outbox.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';

export interface MailCatcher {
  url: string;
  directory: string;
  stop(): Promise<void>;
}

export function mailDirectory(outboxDir: string): string {
  return path.join(outboxDir, 'mail');
}

export async function startMailCatcher(options: { port: number; outboxDir: string; host?: string }): Promise<MailCatcher> {
  const directory = mailDirectory(options.outboxDir);
  mkdirSync(directory, { recursive: true });
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    banner: 'HMS local mail catcher',
    logger: false,
    size: 25 * 1024 * 1024,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const id = randomUUID();
        writeFileSync(path.join(directory, `${new Date().toISOString().replace(/[:.]/g, '-')}-${id}.eml`), Buffer.concat(chunks));
        callback(null, `kept as ${id}`);
      });
    },
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => resolve());
  });
  server.on('error', () => {}); // a client's broken connection is not the catcher's failure
  return {
    url: `smtp://${host}:${options.port}`,
    directory,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface CaughtMail {
  file: string;
  received_at: string;
  from: string | null;
  to: string | null;
  subject: string | null;
  message_id: string | null;
  size: number;
}

/** The caught messages, newest first, with their main headers (unfolded, undecoded). */
export function listCaughtMail(outboxDir: string, limit = 200): CaughtMail[] {
  const directory = mailDirectory(outboxDir);
  let files: string[];
  try {
    files = readdirSync(directory).filter((name) => name.endsWith('.eml')).sort().reverse().slice(0, limit);
  } catch {
    return [];
  }
  return files.map((file) => {
    const full = path.join(directory, file);
    const text = readFileSync(full, 'utf8');
    const head = text.split(/\r?\n\r?\n/, 1)[0].replace(/\r?\n[ \t]+/g, ' ');
    const header = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(head)?.[1]?.trim() ?? null;
    return {
      file,
      received_at: statSync(full).mtime.toISOString(),
      from: header('From'),
      to: header('To'),
      subject: header('Subject'),
      message_id: header('Message-ID'),
      size: statSync(full).size,
    };
  });
}

/** The path of one caught message by its file name, or null (unknown, or not a plain .eml name). */
export function caughtMailFile(outboxDir: string, name: string): string | null {
  if (!/^[A-Za-z0-9T_-]+\.eml$/.test(name)) return null;
  const full = path.join(mailDirectory(outboxDir), name);
  try {
    return statSync(full).isFile() ? full : null;
  } catch {
    return null;
  }
}
