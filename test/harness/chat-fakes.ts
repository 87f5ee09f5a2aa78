/**
 * Contract fakes of the chat services Peregrine posts to (tests cannot reach them): one small
 * HTTP server per service that checks each request against the service's documented payload
 * schema and limits, rate-limits per webhook, and answers (successes, refusals, 429s) in the
 * service's own shapes. What it accepted is kept for the tests to read.
 *
 * The limits are written here again, apart from the outputs' own copies, so a wrong limit in
 * an output cannot pass its own check. Sources (each service's public docs):
 * - Teams: webhook message ≤ 28 KB; {type:"message", attachments:[{contentType:
 *   "application/vnd.microsoft.card.adaptive", content: AdaptiveCard}]}; Workflows answer 202.
 * - Discord (Execute Webhook, Embed Limits): content ≤ 2000; ≤ 10 embeds; title ≤ 256,
 *   description ≤ 4096, ≤ 25 fields, field name ≤ 256, value ≤ 1024, footer ≤ 2048, all embed
 *   text ≤ 6000; content or embeds required; 204 without ?wait; 429 JSON {message,
 *   retry_after (s), global} with Retry-After; 404 {"message":"Unknown Webhook","code":10015}.
 * - Mattermost incoming webhooks: text ≤ 16383 (or attachments) required; 200 "ok"; errors
 *   are app errors {id, message, status_code}.
 * - Google Chat (spaces.messages.create): text ≤ 4096 characters, message ≤ 32,000 bytes;
 *   key and token query parameters; errors {error:{code,message,status}}; 429 RESOURCE_EXHAUSTED.
 * - Rocket.Chat incoming webhooks: text (≤ Message_MaxAllowedSize, default 5000) or
 *   attachments; 200 {"success":true}; refusals {"success":false,"error":...}.
 * - Telegram Bot API sendMessage: chat_id and text (1–4096 characters) required; parse_mode
 *   HTML accepts only its documented tags; answers {ok:true,result} or {ok:false,error_code,
 *   description[,parameters:{retry_after}]} — the wait is in the body, not in a header.
 * - Webex incoming webhooks: text or markdown, ≤ 7439 bytes; 204; errors {message, errors,
 *   trackingId}; 429 with Retry-After.
 *
 * "No 429 ignored" is checked here: a request that arrives before the last 429's wait has
 * elapsed is recorded in `violations` (and answered 429 again).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type ChatService = "teams" | "discord" | "mattermost" | "googlechat" | "rocketchat" | "telegram" | "webex";

export interface ChatFakeOptions {
  /** Sustained messages per second per webhook. */
  perSecond?: number;
  burst?: number;
  port?: number;
}

export interface AcceptedMessage {
  /** The webhook (or chat) the message went to: the run of a test. */
  hook: string;
  payload: Record<string, unknown>;
}

export interface Refusal {
  hook: string;
  status: number;
  detail: string;
}

export interface ChatFake {
  readonly service: ChatService;
  readonly port: number;
  /** The output config keys that point the output at `hook` on this fake. */
  target(hook: string): Record<string, unknown>;
  /** The same, for a webhook the service no longer knows (revoked or deleted). */
  revokedTarget(hook: string): Record<string, unknown>;
  readonly messages: AcceptedMessage[];
  /** Payloads refused as off-contract (a test expects none). */
  readonly refusals: Refusal[];
  /** Requests sent while a 429's wait was still running. */
  readonly violations: Refusal[];
  /** Answers every request with this until cleared: a 5xx outage, or 429 (answered the service's way, wait in seconds). */
  setFault(fault: { status: 429; retryAfter: number } | { status: number } | undefined): void;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;
interface Answer {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

const isObj = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): v is string => typeof v === "string";
const bytes = (s: string): number => Buffer.byteLength(s, "utf8");

/** Each service's contract: where its webhooks live, what a valid payload is, how it answers. */
interface Contract {
  /** The hook of a request path (and query), or undefined when the path is not a webhook of this service. */
  hook(url: URL): string | undefined;
  /** What is wrong with the payload, or undefined. */
  check(payload: unknown, raw: string, url: URL): string | undefined;
  /** The hook a payload is for (Telegram: the chat_id). */
  hookOf?(payload: Json): string;
  ok(payload: Json): Answer;
  invalid(detail: string): Answer;
  notFound(): Answer;
  limited(seconds: number): Answer;
  failed(status: number): Answer;
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Answer => ({
  status,
  body: JSON.stringify(body),
  headers: { "content-type": "application/json", ...headers },
});
const text = (status: number, body: string, headers: Record<string, string> = {}): Answer => ({ status, body, headers: { "content-type": "text/plain", ...headers } });
const retryAfter = (s: number) => ({ "retry-after": String(s) });

function lastSegment(prefix: RegExp): (url: URL) => string | undefined {
  return (url) => prefix.exec(url.pathname)?.[1];
}

const TEAMS_ELEMENTS = new Set(["TextBlock", "FactSet", "ColumnSet", "Column", "Image", "Container", "RichTextBlock", "ActionSet"]);

function checkTeamsElements(items: unknown, at: string): string | undefined {
  if (!Array.isArray(items)) return `${at} must be an array`;
  for (const [i, el] of items.entries()) {
    if (!isObj(el) || !str(el.type) || !TEAMS_ELEMENTS.has(el.type)) return `${at}[${i}].type is not an Adaptive Card element`;
    if (el.type === "TextBlock" && !str(el.text)) return `${at}[${i}].text is required`;
    if (el.type === "FactSet" && (!Array.isArray(el.facts) || el.facts.some((f) => !isObj(f) || !str(f.title) || !str(f.value)))) return `${at}[${i}].facts must be {title, value} strings`;
    if (el.type === "Image" && !str(el.url)) return `${at}[${i}].url is required`;
    if (el.type === "ColumnSet") {
      if (!Array.isArray(el.columns)) return `${at}[${i}].columns must be an array`;
      for (const [j, c] of el.columns.entries()) {
        const bad = isObj(c) ? checkTeamsElements(c.items, `${at}[${i}].columns[${j}].items`) : "column must be an object";
        if (bad) return bad;
      }
    }
  }
  return undefined;
}

const CONTRACTS: Record<ChatService, Contract> = {
  teams: {
    hook: lastSegment(/^\/workflows\/([^/]+)\/triggers\/manual\/paths\/invoke$/),
    check(p, raw) {
      if (bytes(raw) > 28 * 1024) return "message larger than 28 KB";
      if (!isObj(p) || p.type !== "message") return 'type must be "message"';
      if (!Array.isArray(p.attachments) || p.attachments.length !== 1) return "attachments must hold one card";
      const a = p.attachments[0];
      if (!isObj(a) || a.contentType !== "application/vnd.microsoft.card.adaptive") return "attachments[0].contentType must be application/vnd.microsoft.card.adaptive";
      const c = a.content;
      if (!isObj(c) || c.type !== "AdaptiveCard" || !str(c.version) || !/^1\.[0-6]$/.test(c.version)) return "attachments[0].content must be an AdaptiveCard of version 1.0–1.6";
      return checkTeamsElements(c.body, "attachments[0].content.body");
    },
    ok: () => text(202, ""),
    invalid: (d) => json(400, { error: { code: "InvalidRequestContent", message: d } }),
    notFound: () => json(404, { error: { code: "WorkflowNotFound", message: "The workflow could not be found." } }),
    limited: (s) => json(429, { error: { code: "WorkflowTriggerIsThrottled", message: "Rate limit is exceeded." } }, retryAfter(s)),
    failed: (status) => json(status, { error: { code: "ServiceUnavailable", message: "The service is unavailable." } }),
  },
  discord: {
    hook: lastSegment(/^\/api\/webhooks\/\d+\/([^/]+)$/),
    check(p) {
      if (!isObj(p)) return "body must be a JSON object";
      const content = p.content;
      if (content !== undefined && (!str(content) || content.length > 2000)) return "content: Must be 2000 or fewer in length.";
      const embeds = p.embeds ?? [];
      if (!Array.isArray(embeds) || embeds.length > 10) return "embeds: Must be 10 or fewer in length.";
      if ((content === undefined || content === "") && embeds.length === 0) return "Cannot send an empty message (50006)";
      let total = 0;
      for (const [i, e] of embeds.entries()) {
        if (!isObj(e)) return `embeds.${i}: must be an object`;
        const title = e.title ?? "";
        const description = e.description ?? "";
        if (!str(title) || title.length > 256) return `embeds.${i}.title: Must be 256 or fewer in length.`;
        if (!str(description) || description.length > 4096) return `embeds.${i}.description: Must be 4096 or fewer in length.`;
        if (e.color !== undefined && (!Number.isInteger(e.color) || (e.color as number) < 0 || (e.color as number) > 0xffffff)) return `embeds.${i}.color: invalid`;
        const fields = e.fields ?? [];
        if (!Array.isArray(fields) || fields.length > 25) return `embeds.${i}.fields: Must be 25 or fewer in length.`;
        total += title.length + description.length;
        for (const [j, f] of fields.entries()) {
          if (!isObj(f) || !str(f.name) || !str(f.value) || f.name.length === 0 || f.value.length === 0) return `embeds.${i}.fields.${j}: name and value are required`;
          if (f.name.length > 256) return `embeds.${i}.fields.${j}.name: Must be 256 or fewer in length.`;
          if (f.value.length > 1024) return `embeds.${i}.fields.${j}.value: Must be 1024 or fewer in length.`;
          total += f.name.length + f.value.length;
        }
        if (e.footer !== undefined) {
          if (!isObj(e.footer) || !str(e.footer.text) || e.footer.text.length > 2048) return `embeds.${i}.footer.text: Must be 2048 or fewer in length.`;
          total += e.footer.text.length;
        }
      }
      if (total > 6000) return `Embed size exceeds maximum size of 6000 (${total})`;
      return undefined;
    },
    ok: () => ({ status: 204, body: "" }),
    invalid: (d) => json(400, { code: 50035, message: "Invalid Form Body", errors: d }),
    notFound: () => json(404, { message: "Unknown Webhook", code: 10015 }),
    limited: (s) => json(429, { message: "You are being rate limited.", retry_after: s, global: false }, retryAfter(s)),
    failed: (status) => text(status, "upstream connect error"),
  },
  mattermost: {
    hook: lastSegment(/^\/hooks\/([^/]+)$/),
    check(p) {
      if (!isObj(p)) return "body must be a JSON object";
      const t = p.text ?? "";
      if (!str(t)) return "text must be a string";
      if (t.length === 0 && !Array.isArray(p.attachments)) return "No text specified.";
      if (t.length > 16383) return "Post message is too long.";
      for (const k of ["channel", "username", "icon_url", "icon_emoji"]) if (p[k] !== undefined && !str(p[k])) return `${k} must be a string`;
      return undefined;
    },
    ok: () => text(200, "ok"),
    invalid: (d) => json(400, { id: "web.incoming_webhook.text.app_error", message: d, status_code: 400 }),
    notFound: () => json(400, { id: "web.incoming_webhook.invalid.app_error", message: "Invalid webhook.", status_code: 400 }),
    limited: (s) => text(429, "too many requests", { ...retryAfter(s), "x-ratelimit-remaining": "0" }),
    failed: (status) => json(status, { id: "app.post.save.app_error", message: "Unable to save the post.", status_code: status }),
  },
  googlechat: {
    hook(url) {
      const space = /^\/v1\/spaces\/([^/]+)\/messages$/.exec(url.pathname)?.[1];
      return space && url.searchParams.get("key") && url.searchParams.get("token") ? space : undefined;
    },
    check(p, raw) {
      if (bytes(raw) > 32_000) return "message exceeds 32,000 bytes";
      if (!isObj(p)) return "Invalid JSON payload";
      if (!str(p.text) || p.text.length === 0) return "Message cannot be empty. Discarding empty message.";
      if (p.text.length > 4096) return "Message text exceeds 4096 characters";
      return undefined;
    },
    ok: (p) => json(200, { name: "spaces/AAAA/messages/x.x", text: p.text, createTime: new Date().toISOString() }),
    invalid: (d) => json(400, { error: { code: 400, message: d, status: "INVALID_ARGUMENT" } }),
    notFound: () => json(404, { error: { code: 404, message: "Requested entity was not found.", status: "NOT_FOUND" } }),
    limited: (s) => json(429, { error: { code: 429, message: "Resource has been exhausted (e.g. check quota).", status: "RESOURCE_EXHAUSTED" } }, retryAfter(s)),
    failed: (status) => json(status, { error: { code: status, message: "The service is currently unavailable.", status: "UNAVAILABLE" } }),
  },
  rocketchat: {
    hook: lastSegment(/^\/hooks\/([^/]+)\/[^/]+$/),
    check(p) {
      if (!isObj(p)) return "body must be a JSON object";
      const t = p.text ?? "";
      if (!str(t)) return "text must be a string";
      if (t.length === 0 && !Array.isArray(p.attachments)) return "error-invalid-message";
      if (t.length > 5000) return "error-message-size-exceeded";
      for (const k of ["channel", "alias", "emoji", "avatar"]) if (p[k] !== undefined && !str(p[k])) return `${k} must be a string`;
      return undefined;
    },
    ok: () => json(200, { success: true }),
    invalid: (d) => json(400, { success: false, error: d }),
    notFound: () => json(400, { success: false, error: "Invalid integration id or token provided." }),
    limited: (s) => json(429, { success: false, error: "Error, too many requests. Please slow down." }, retryAfter(s)),
    failed: (status) => json(status, { success: false, error: "Internal server error" }),
  },
  telegram: {
    hook: (url) => (/^\/bot\d+:[\w-]+\/sendMessage$/.test(url.pathname) ? "bot" : undefined),
    hookOf: (p) => String(p.chat_id),
    check(p) {
      if (!isObj(p)) return "Bad Request: message text is empty";
      if (!(str(p.chat_id) || typeof p.chat_id === "number") || p.chat_id === "") return "Bad Request: chat_id is empty";
      if (!str(p.text) || p.text.trim().length === 0) return "Bad Request: message text is empty";
      if (p.text.length > 4096) return "Bad Request: message is too long";
      if (p.parse_mode !== undefined && !["HTML", "MarkdownV2", "Markdown"].includes(p.parse_mode as string)) return "Bad Request: unsupported parse_mode";
      if (p.parse_mode === "HTML") {
        // Only the documented tags; a stray < or & is "can't parse entities".
        const stripped = p.text.replace(/<\/?(b|strong|i|em|u|ins|s|strike|del|code|pre|tg-spoiler|blockquote)>/g, "").replace(/<a href="[^"]*">|<\/a>/g, "");
        if (/[<>]/.test(stripped)) return "Bad Request: can't parse entities: unsupported start tag";
        if (/&(?!(amp|lt|gt|quot);)/.test(stripped)) return "Bad Request: can't parse entities: unexpected end of name token";
      }
      return undefined;
    },
    ok: (p) => json(200, { ok: true, result: { message_id: 1, date: Math.floor(Date.now() / 1000), chat: { id: p.chat_id }, text: p.text } }),
    invalid: (d) => json(400, { ok: false, error_code: 400, description: d }),
    notFound: () => json(401, { ok: false, error_code: 401, description: "Unauthorized" }),
    limited: (s) => json(429, { ok: false, error_code: 429, description: `Too Many Requests: retry after ${s}`, parameters: { retry_after: s } }),
    failed: (status) => json(status, { ok: false, error_code: status, description: "Internal Server Error" }),
  },
  webex: {
    hook: lastSegment(/^\/v1\/webhooks\/incoming\/([^/]+)$/),
    check(p) {
      if (!isObj(p)) return "body must be a JSON object";
      const body = p.markdown ?? p.text;
      if (!str(body) || body.length === 0) return "Message must contain text or markdown";
      if (bytes(body) > 7439) return "Message length exceeds the maximum of 7439 bytes";
      return undefined;
    },
    ok: () => ({ status: 204, body: "" }),
    invalid: (d) => json(400, { message: d, errors: [{ description: d }], trackingId: "ROUTER_fake" }),
    notFound: () => json(404, { message: "The requested resource could not be found.", errors: [{ description: "The requested resource could not be found." }], trackingId: "ROUTER_fake" }),
    limited: (s) => json(429, { message: "Too many requests", trackingId: "ROUTER_fake" }, retryAfter(s)),
    failed: (status) => json(status, { message: "Service unavailable", trackingId: "ROUTER_fake" }),
  },
};

/** Config keys pointing an output of `service` at `hook` on a fake at `base`. */
function targetOf(service: ChatService, base: string, hook: string, revoked: boolean): Record<string, unknown> {
  const h = revoked ? `${hook}-revoked` : hook;
  switch (service) {
    case "teams":
      return { webhook_url: `${base}/workflows/${h}/triggers/manual/paths/invoke?api-version=1&sig=secret` };
    case "discord":
      return { webhook_url: `${base}/api/webhooks/1234567890/${h}` };
    case "mattermost":
      return { webhook_url: `${base}/hooks/${h}` };
    case "googlechat":
      return { webhook_url: `${base}/v1/spaces/${h}/messages?key=k&token=t` };
    case "rocketchat":
      return { webhook_url: `${base}/hooks/${h}/tok` };
    case "telegram":
      return { api_url: base, token: revoked ? "42:revoked" : "42:ABC-def", chat_id: hook };
    case "webex":
      return { webhook_url: `${base}/v1/webhooks/incoming/${h}` };
  }
}

export async function startChatFake(service: ChatService, options: ChatFakeOptions = {}): Promise<ChatFake> {
  const contract = CONTRACTS[service];
  const perSecond = options.perSecond ?? 1;
  const burst = options.burst ?? 3;
  const started = performance.now();
  const now = () => performance.now() - started;
  const messages: AcceptedMessage[] = [];
  const refusals: Refusal[] = [];
  const violations: Refusal[] = [];
  const hooks = new Map<string, { tokens: number; updatedAt: number; waitUntil: number }>();
  let fault: { status: number; retryAfter?: number } | undefined;

  function answer(res: ServerResponse, a: Answer): void {
    res.writeHead(a.status, a.headers ?? {});
    res.end(a.body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const at = now();
    const url = new URL(req.url ?? "/", "http://fake");
    let hook = contract.hook(url);
    if (hook === undefined || hook.endsWith("-revoked") || url.pathname.includes(":revoked")) return answer(res, contract.notFound());
    if (req.method !== "POST") return answer(res, contract.invalid("method must be POST"));
    if (!/^application\/json/.test(req.headers["content-type"] ?? "")) return answer(res, contract.invalid("content-type must be application/json"));
    let payload: unknown;
    try {
      payload = JSON.parse(raw);
    } catch {
      return answer(res, contract.invalid("body is not JSON"));
    }
    if (contract.hookOf && isObj(payload)) hook = contract.hookOf(payload);

    let state = hooks.get(hook);
    if (!state) hooks.set(hook, (state = { tokens: burst, updatedAt: at, waitUntil: 0 }));
    // Clock jitter between two processes: a request 50 ms early still honours the wait.
    if (at < state.waitUntil - 50) {
      violations.push({ hook, status: 429, detail: "sent before the 429's wait elapsed" });
      return answer(res, contract.limited(Math.max(1, Math.ceil((state.waitUntil - at) / 1000))));
    }
    if (fault) {
      if (fault.status === 429) {
        const s = fault.retryAfter ?? 1;
        state.waitUntil = at + s * 1000;
        return answer(res, contract.limited(s));
      }
      return answer(res, contract.failed(fault.status));
    }
    state.tokens = Math.min(burst, state.tokens + ((at - state.updatedAt) * perSecond) / 1000);
    state.updatedAt = at;
    if (state.tokens < 1) {
      const s = Math.max(1, Math.ceil((1 - state.tokens) / perSecond));
      state.waitUntil = at + s * 1000;
      return answer(res, contract.limited(s));
    }
    const problem = contract.check(payload, raw, url);
    if (problem !== undefined) {
      refusals.push({ hook, status: 400, detail: problem });
      return answer(res, contract.invalid(problem));
    }
    state.tokens -= 1;
    messages.push({ hook, payload: payload as Json });
    return answer(res, contract.ok(payload as Json));
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}`;
  return {
    service,
    port,
    target: (hook) => targetOf(service, base, hook, false),
    revokedTarget: (hook) => targetOf(service, base, hook, true),
    messages,
    refusals,
    violations,
    setFault(f) {
      fault = f;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
