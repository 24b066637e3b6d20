/**
 * How the worker reaches people: e-mail over SMTP (nodemailer, pooled connections) and SMS /
 * WhatsApp through an HTTP gateway adapter (or, without a gateway URL, a local outbox file).
 *
 * Every send answers the provider's message id or throws a DeliveryError that says whether
 * trying again can help: an SMTP 5xx reply or a gateway 4xx is permanent (a bad address, a
 * refused template); a connection failure, an SMTP 4xx or a gateway 5xx is retried.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import nodemailer, { type Transporter } from 'nodemailer';
import type { DeliveryConfig, GatewayConfig } from '../../../db/launcher/config.ts';

export class DeliveryError extends Error {
  readonly permanent: boolean;
  constructor(message: string, permanent: boolean) {
    super(message);
    this.permanent = permanent;
  }
}

export interface EmailMessage {
  /** The queue row: also the Message-ID, so a receiver can tell a resend of the same message. */
  reference: string;
  to: string;
  fromName: string | null;
  replyTo: string | null;
  subject: string;
  text: string;
  html?: string;
}

export interface TextMessage {
  reference: string;
  to: string;
  text: string;
  templateId?: string;
}

export interface Channels {
  email(message: EmailMessage): Promise<{ provider: 'smtp'; id: string }>;
  sms(message: TextMessage): Promise<{ provider: 'sms_gateway'; id: string }>;
  whatsapp(message: TextMessage): Promise<{ provider: 'whatsapp_gateway'; id: string }>;
  close(): void;
}

function smtpError(error: unknown): DeliveryError {
  const failure = error as { responseCode?: number; response?: string; code?: string; message?: string };
  const reason = failure.response ?? `${failure.code ?? 'error'}: ${failure.message ?? String(error)}`;
  return new DeliveryError(`SMTP: ${reason}`, typeof failure.responseCode === 'number' && failure.responseCode >= 500);
}

/** JSON body of a gateway request: each {{placeholder}} becomes a JSON string (or null). */
export function gatewayBody(template: string, values: Record<string, string | null | undefined>): string {
  return template.replace(/\{\{\s*([a-z_]+)\s*\}\}/g, (_match, name: string) => JSON.stringify(values[name] ?? null));
}

function gateway(config: GatewayConfig, outboxFile: string) {
  return async (message: TextMessage): Promise<string> => {
    if (!config.url) {
      mkdirSync(path.dirname(outboxFile), { recursive: true });
      appendFileSync(outboxFile, JSON.stringify({ at: new Date().toISOString(), to: message.to, text: message.text, reference: message.reference, template_id: message.templateId ?? null }) + '\n');
      return `local:${message.reference}`;
    }
    let response: Response;
    try {
      response = await fetch(config.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(config.token ? { authorization: `Bearer ${config.token}` } : {}) },
        body: gatewayBody(config.body, { to: message.to, text: message.text, reference: message.reference, template_id: message.templateId }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new DeliveryError(`gateway unreachable: ${(error as Error).message}`, false);
    }
    const text = await response.text();
    if (!response.ok) {
      throw new DeliveryError(`gateway answered ${response.status}: ${text.slice(0, 500)}`, response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429);
    }
    let id: unknown;
    try {
      const body = JSON.parse(text);
      id = body.id ?? body.message_id ?? body.messageId ?? body.sid;
    } catch {
      id = undefined;
    }
    return typeof id === 'string' || typeof id === 'number' ? String(id) : `${response.headers.get('x-request-id') ?? message.reference}`;
  };
}

export function createChannels(config: DeliveryConfig, smtpUrl: string, mailFrom = config.mailFrom): Channels {
  // Transport options with the URL inside: given as a string, the URL's transport would not pool
  // (a second argument is the messages' defaults), and a new connection per message is ~100 ms.
  const transport: Transporter = nodemailer.createTransport({ url: smtpUrl, pool: true, maxConnections: 5, maxMessages: 1000 } as never);
  const sms = gateway(config.sms, path.join(config.outboxDir, 'sms.jsonl'));
  const whatsapp = gateway(config.whatsapp, path.join(config.outboxDir, 'whatsapp.jsonl'));
  const domain = mailFrom.split('@')[1] ?? 'hms.local';
  return {
    async email(message) {
      try {
        const info = await transport.sendMail({
          from: { name: message.fromName ?? 'HMS', address: mailFrom },
          to: message.to,
          ...(message.replyTo ? { replyTo: message.replyTo } : {}),
          subject: message.subject,
          text: message.text,
          ...(message.html ? { html: message.html } : {}),
          messageId: `<${message.reference}@${domain}>`,
        });
        return { provider: 'smtp', id: info.messageId };
      } catch (error) {
        throw smtpError(error);
      }
    },
    async sms(message) {
      return { provider: 'sms_gateway', id: await sms(message) };
    },
    async whatsapp(message) {
      return { provider: 'whatsapp_gateway', id: await whatsapp(message) };
    },
    close() {
      transport.close();
    },
  };
}

/**
 * The channels of the running worker: set by startWorker, read by the delivery tasks (graphile-
 * worker gives tasks no context of their own). One worker per process.
 */
let current: (Channels & { workerId: string; staleLockSeconds: number; publicUrl: string }) | null = null;

export function setChannels(channels: typeof current): void {
  current = channels;
}

export function channels(): NonNullable<typeof current> {
  if (!current) throw new Error('the worker has no delivery channels (start it with startWorker)');
  return current;
}
