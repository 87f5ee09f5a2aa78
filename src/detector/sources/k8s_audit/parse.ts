/**
 * What an API server's audit webhook posts: an audit.k8s.io/v1 EventList (the batching
 * backend), a single Event, or a JSON array of either (as the k8saudit plugin accepts). A body
 * is one unit: any event that cannot be read makes the whole body malformed, with a reason
 * that names it, and nothing of it is evaluated.
 */
import type { K8sAuditEvent } from "../../fields/k8s-audit.js";
import { PeregrineError } from "../../../errors.js";

export class AuditBodyError extends PeregrineError {
  constructor(message: string) {
    super("K8S_AUDIT_INVALID_BODY", message);
    this.name = "AuditBodyError";
  }
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i;

/** An RFC 3339 time read into whole seconds (as epoch milliseconds) and nine fraction digits. */
function readStageTime(value: string): { secondsMs: number; frac: string } | undefined {
  const m = RFC3339.exec(value);
  if (!m) return undefined;
  const secondsMs = Date.parse(`${m[1]}${m[3]!.toUpperCase()}`);
  if (!Number.isFinite(secondsMs)) return undefined;
  return { secondsMs, frac: (m[2] ?? "").padEnd(9, "0") };
}

function rawtimeOf(secondsMs: number, frac: string): string {
  // whole seconds then nine digits is the nanosecond count; BigInt only before 1970
  return secondsMs >= 1000 ? `${secondsMs / 1000}${frac}` : (BigInt(secondsMs) * 1_000_000n + BigInt(frac)).toString();
}

function timeOf(secondsMs: number, frac: string): string {
  return `${new Date(secondsMs).toISOString().slice(0, 19)}.${frac}Z`;
}

/** An RFC 3339 time as nanoseconds since the epoch (text) and as UTC with nine fraction digits. */
export function parseStageTime(value: string): { rawtime: string; time: string } | undefined {
  const t = readStageTime(value);
  return t && { rawtime: rawtimeOf(t.secondsMs, t.frac), time: timeOf(t.secondsMs, t.frac) };
}

/**
 * One parsed event. Its two time texts are built when first read (most events raise no alert
 * and no rule reads their raw time), the time itself is checked when the body is read.
 */
class AuditEvent implements K8sAuditEvent {
  #rawtime: string | undefined;
  #time: string | undefined;
  constructor(
    readonly doc: Readonly<Record<string, unknown>>,
    private readonly secondsMs: number,
    private readonly frac: string,
  ) {}
  get rawtime(): string {
    return (this.#rawtime ??= rawtimeOf(this.secondsMs, this.frac));
  }
  get time(): string {
    return (this.#time ??= timeOf(this.secondsMs, this.frac));
  }
}

function event(doc: unknown, at: string): K8sAuditEvent {
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) throw new AuditBodyError(`${at}: an audit event must be a JSON object`);
  const d = doc as Record<string, unknown>;
  const st = d.stageTimestamp;
  if (typeof st !== "string") throw new AuditBodyError(`${at}.stageTimestamp: missing (every audit.k8s.io/v1 Event has one)`);
  const t = readStageTime(st);
  if (!t) throw new AuditBodyError(`${at}.stageTimestamp: not an RFC 3339 time: ${JSON.stringify(st).slice(0, 80)}`);
  return new AuditEvent(d, t.secondsMs, t.frac);
}

function collect(value: unknown, at: string, out: K8sAuditEvent[], depth: number): void {
  if (Array.isArray(value)) {
    // the plugin accepts arrays of lists and events; one level is all a sender needs
    if (depth > 0) throw new AuditBodyError(`${at}: arrays nest at most one level`);
    value.forEach((v, i) => collect(v, `${at}[${i}]`, out, depth + 1));
    return;
  }
  if (value === null || typeof value !== "object") throw new AuditBodyError(`${at}: expected an audit.k8s.io/v1 EventList or Event object`);
  const kind = (value as { kind?: unknown }).kind;
  if (kind === "EventList") {
    const items = (value as { items?: unknown }).items;
    // an empty list serializes its items as null or leaves them out
    if (items === undefined || items === null) return;
    if (!Array.isArray(items)) throw new AuditBodyError(`${at}.items: must be an array of audit events`);
    items.forEach((v, i) => out.push(event(v, `${at}.items[${i}]`)));
    return;
  }
  if (kind === "Event") {
    out.push(event(value, at));
    return;
  }
  throw new AuditBodyError(`${at}.kind: expected EventList or Event, got ${kind === undefined ? "none" : JSON.stringify(kind).slice(0, 60)}`);
}

/** The events of a webhook body; throws AuditBodyError with the reason when it is malformed. */
export function parseAuditBody(text: string): K8sAuditEvent[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new AuditBodyError(`body: not valid JSON (${(err as Error).message})`);
  }
  const out: K8sAuditEvent[] = [];
  collect(value, "body", out, 0);
  return out;
}
