/**
 * A stand-in for Slack's incoming webhooks, since tests cannot reach Slack. It checks
 * payloads against Slack's documented limits and rate-limits like Slack does, and it keeps
 * what it received so tests can assert on it.
 *
 * Documented behaviour it reproduces (numbers kept here on purpose, apart from the
 * output's own copy, so a wrong limit in the output cannot pass its own check):
 * - Posting messages: about 1 per second per webhook, short bursts allowed; over the limit
 *   the answer is HTTP 429 with a `Retry-After` header in seconds (Slack rate-limits doc).
 * - Errors as plain-text bodies with an HTTP status (Slack changelog 2016-05-17 "Improving
 *   error conditions for Incoming Webhooks"): 400 invalid_payload, 400 no_text (a message
 *   needs text, blocks or attachments), 404 no_service, 404 channel_not_found,
 *   410 channel_is_archived, 500 rollup_error; 400 invalid_blocks for Block Kit errors.
 * - Message `text`: Slack truncates past 40,000 characters; this server refuses it
 *   (msg_too_long) so a test sees an output that relies on Slack to cut.
 * - Blocks (Block Kit reference): at most 50 blocks in a message; section `text` at most
 *   3000 characters, section `fields` at most 10 items of at most 2000 characters; header
 *   plain_text at most 150; context at most 10 elements; text objects at most 3000 and never
 *   empty; `block_id` at most 255; markdown block text at most 12,000.
 * - Attachments: at most 100 in a message (chat.postMessage too_many_attachments).
 *
 * Character counts use UTF-16 length, which is never less than Slack's count of characters.
 * "No 429 ignored" is checked here: a request that arrives before the Retry-After of the
 * last 429 has elapsed is recorded in `violations` (and answered 429 again).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export const SLACK_DOCUMENTED_LIMITS = {
  textChars: 40_000,
  blocksPerMessage: 50,
  attachmentsPerMessage: 100,
  sectionTextChars: 3000,
  sectionFields: 10,
  sectionFieldChars: 2000,
  headerTextChars: 150,
  contextElements: 10,
  textObjectChars: 3000,
  blockIdChars: 255,
  markdownBlockChars: 12_000,
} as const;

const L = SLACK_DOCUMENTED_LIMITS;

export interface SlackServerOptions {
  /** Sustained messages per second per webhook (Slack: 1). */
  perSecond?: number;
  /** Messages allowed at once after idling. */
  burst?: number;
  port?: number;
}

export interface ReceivedMessage {
  /** ms since the server started. */
  at: number;
  path: string;
  payload: SlackPayload;
}

export interface RequestRecord {
  at: number;
  path: string;
  status: number;
  body: string;
  /** Why a payload was refused, with the JSON path of the problem. */
  detail?: string;
}

export type SlackPayload = Record<string, unknown>;

export interface SlackServer {
  /** A webhook URL on this server; each distinct path is a separate webhook with its own rate limit. */
  webhookUrl(name?: string): string;
  readonly messages: ReceivedMessage[];
  readonly requests: RequestRecord[];
  /** Requests sent while a 429's Retry-After was still running. */
  readonly violations: RequestRecord[];
  /** Answers the next `count` requests with this status and body (e.g. 500 rollup_error, 404 channel_not_found). */
  failNext(status: number, body: string, count?: number): void;
  /** Forces the next request to be rate-limited with this Retry-After (seconds). */
  rateLimitNext(retryAfterSeconds: number): void;
  /** Answers every request with this until cleared (undefined), e.g. a 503 outage. */
  setFault(fault: { status: number; body: string; headers?: Record<string, string> } | undefined): void;
  readonly port: number;
  close(): Promise<void>;
}

interface WebhookState {
  tokens: number;
  updatedAt: number;
  /** ms (server clock) before which a request ignores the last 429. */
  retryAfterUntil: number;
}

export async function startSlackServer(options: SlackServerOptions = {}): Promise<SlackServer> {
  const perSecond = options.perSecond ?? 1;
  const burst = options.burst ?? 3;
  const started = performance.now();
  const now = () => performance.now() - started;
  const messages: ReceivedMessage[] = [];
  const requests: RequestRecord[] = [];
  const violations: RequestRecord[] = [];
  const hooks = new Map<string, WebhookState>();
  const injected: { status: number; body: string }[] = [];
  let forcedRetryAfter: number | undefined;
  let fault: { status: number; body: string; headers?: Record<string, string> } | undefined;

  function reply(res: ServerResponse, record: RequestRecord, headers: Record<string, string> = {}): void {
    requests.push(record);
    res.writeHead(record.status, { "content-type": "text/plain", ...headers });
    res.end(record.body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const at = now();
    const path = (req.url ?? "/").split("?")[0]!;
    const base = { at, path };
    if (fault) return reply(res, { ...base, status: fault.status, body: fault.body }, fault.headers);
    if (req.method !== "POST") return reply(res, { ...base, status: 405, body: "invalid_method" });
    if (!path.startsWith("/services/")) return reply(res, { ...base, status: 404, body: "no_service" });

    let hook = hooks.get(path);
    if (!hook) {
      hook = { tokens: burst, updatedAt: at, retryAfterUntil: 0 };
      hooks.set(path, hook);
    }
    // Clock jitter between two processes: a request 50 ms early still honours the wait.
    if (at < hook.retryAfterUntil - 50) {
      const record = { ...base, status: 429, body: "rate_limited", detail: "sent before Retry-After elapsed" };
      violations.push(record);
      const seconds = Math.max(1, Math.ceil((hook.retryAfterUntil - at) / 1000));
      return reply(res, record, { "retry-after": String(seconds) });
    }
    hook.tokens = Math.min(burst, hook.tokens + ((at - hook.updatedAt) * perSecond) / 1000);
    hook.updatedAt = at;
    if (forcedRetryAfter !== undefined || hook.tokens < 1) {
      const seconds = forcedRetryAfter ?? Math.max(1, Math.ceil(((1 - hook.tokens) * 1000) / perSecond / 1000));
      forcedRetryAfter = undefined;
      hook.retryAfterUntil = at + seconds * 1000;
      return reply(res, { ...base, status: 429, body: "rate_limited" }, { "retry-after": String(seconds) });
    }
    hook.tokens -= 1;

    const once = injected.shift();
    if (once) return reply(res, { ...base, ...once });

    const contentType = String(req.headers["content-type"] ?? "");
    if (!contentType.startsWith("application/json"))
      return reply(res, { ...base, status: 400, body: "invalid_payload", detail: `content-type ${contentType}` });
    let payload: unknown;
    try {
      payload = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch (err) {
      return reply(res, { ...base, status: 400, body: "invalid_payload", detail: String(err) });
    }
    const problem = checkPayload(payload);
    if (problem) return reply(res, { ...base, status: 400, body: problem.error, detail: problem.detail });
    messages.push({ at, path, payload: payload as SlackPayload });
    return reply(res, { ...base, status: 200, body: "ok" });
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      res.writeHead(500);
      res.end(`rollup_error ${String(err)}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    webhookUrl: (name = "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX") => `http://127.0.0.1:${port}/services/${name}`,
    messages,
    requests,
    violations,
    failNext(status, body, count = 1) {
      for (let i = 0; i < count; i++) injected.push({ status, body });
    },
    rateLimitNext(seconds) {
      forcedRetryAfter = seconds;
    },
    setFault(f) {
      fault = f;
    },
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

type Problem = { error: string; detail: string } | undefined;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Validates a webhook payload; the first problem, as Slack's error string plus where it is. */
export function checkPayload(payload: unknown): Problem {
  if (!isObject(payload)) return { error: "invalid_payload", detail: "body is not a JSON object" };
  const { text, blocks, attachments } = payload;
  const hasText = typeof text === "string" && text.length > 0;
  const hasBlocks = Array.isArray(blocks) && blocks.length > 0;
  const hasAttachments = Array.isArray(attachments) && attachments.length > 0;
  if (!hasText && !hasBlocks && !hasAttachments) return { error: "no_text", detail: "no text, blocks or attachments" };
  if (text !== undefined && typeof text !== "string") return { error: "invalid_payload", detail: "text is not a string" };
  if (typeof text === "string" && text.length > L.textChars)
    return { error: "msg_too_long", detail: `text has ${text.length} characters, limit ${L.textChars}` };
  if (blocks !== undefined) {
    const p = checkBlocks(blocks, "blocks");
    if (p) return p;
  }
  if (attachments !== undefined) {
    if (!Array.isArray(attachments)) return { error: "invalid_attachments", detail: "attachments is not a list" };
    if (attachments.length > L.attachmentsPerMessage)
      return { error: "too_many_attachments", detail: `${attachments.length} attachments, limit ${L.attachmentsPerMessage}` };
    for (let i = 0; i < attachments.length; i++) {
      const a = attachments[i];
      const where = `attachments[${i}]`;
      if (!isObject(a)) return { error: "invalid_attachments", detail: `${where} is not an object` };
      for (const key of ["text", "pretext", "fallback", "color", "title"]) {
        if (a[key] !== undefined && typeof a[key] !== "string")
          return { error: "invalid_attachments", detail: `${where}.${key} is not a string` };
        if (typeof a[key] === "string" && (a[key] as string).length > L.textChars)
          return { error: "msg_too_long", detail: `${where}.${key} over ${L.textChars}` };
      }
      if (a.blocks !== undefined) {
        const p = checkBlocks(a.blocks, `${where}.blocks`);
        if (p) return p;
      }
    }
  }
  return undefined;
}

function invalid(detail: string): Problem {
  return { error: "invalid_blocks", detail };
}

function checkBlocks(blocks: unknown, where: string): Problem {
  if (!Array.isArray(blocks)) return invalid(`${where} is not a list`);
  if (blocks.length > L.blocksPerMessage) return invalid(`${where} has ${blocks.length} blocks, limit ${L.blocksPerMessage}`);
  for (let i = 0; i < blocks.length; i++) {
    const p = checkBlock(blocks[i], `${where}[${i}]`);
    if (p) return p;
  }
  return undefined;
}

function checkText(t: unknown, where: string, max: number, plainOnly = false): Problem {
  if (!isObject(t)) return invalid(`${where} must be a text object`);
  if (t.type !== "plain_text" && t.type !== "mrkdwn") return invalid(`${where}.type must be plain_text or mrkdwn`);
  if (plainOnly && t.type !== "plain_text") return invalid(`${where}.type must be plain_text`);
  if (typeof t.text !== "string" || t.text.length === 0) return invalid(`${where}.text must be a non-empty string`);
  if (t.text.length > max) return invalid(`${where}.text has ${t.text.length} characters, limit ${max}`);
  return undefined;
}

function checkBlock(b: unknown, where: string): Problem {
  if (!isObject(b)) return invalid(`${where} is not an object`);
  if (b.block_id !== undefined && (typeof b.block_id !== "string" || b.block_id.length > L.blockIdChars))
    return invalid(`${where}.block_id over ${L.blockIdChars} characters`);
  switch (b.type) {
    case "section": {
      if (b.text === undefined && b.fields === undefined) return invalid(`${where} needs text or fields`);
      if (b.text !== undefined) {
        const p = checkText(b.text, `${where}.text`, L.sectionTextChars);
        if (p) return p;
      }
      if (b.fields !== undefined) {
        if (!Array.isArray(b.fields) || b.fields.length === 0) return invalid(`${where}.fields must be a non-empty list`);
        if (b.fields.length > L.sectionFields) return invalid(`${where}.fields has ${b.fields.length} items, limit ${L.sectionFields}`);
        for (let i = 0; i < b.fields.length; i++) {
          const p = checkText(b.fields[i], `${where}.fields[${i}]`, L.sectionFieldChars);
          if (p) return p;
        }
      }
      return undefined;
    }
    case "header":
      return checkText(b.text, `${where}.text`, L.headerTextChars, true);
    case "context": {
      if (!Array.isArray(b.elements) || b.elements.length === 0) return invalid(`${where}.elements must be a non-empty list`);
      if (b.elements.length > L.contextElements) return invalid(`${where}.elements has ${b.elements.length} items, limit ${L.contextElements}`);
      for (let i = 0; i < b.elements.length; i++) {
        const e = b.elements[i];
        if (isObject(e) && e.type === "image") continue;
        const p = checkText(e, `${where}.elements[${i}]`, L.textObjectChars);
        if (p) return p;
      }
      return undefined;
    }
    case "markdown":
      if (typeof b.text !== "string" || b.text.length === 0 || b.text.length > L.markdownBlockChars)
        return invalid(`${where}.text must have 1 to ${L.markdownBlockChars} characters`);
      return undefined;
    case "divider":
      return undefined;
    case "image":
    case "actions":
    case "rich_text":
    case "video":
    case "file":
    case "input":
      return undefined; // not produced by Peregrine's templates; accepted as Slack would
    default:
      return invalid(`${where}.type ${JSON.stringify(b.type)} is not a block type`);
  }
}
