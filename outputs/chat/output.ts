/**
 * The send path every chat output shares: plan the batch (digest), render it in the
 * service's markup within its limits, POST it, read the answer. The rate limit is the
 * lane's (laneDefaults below), so alerts that queue behind it arrive as one batch and go
 * out as one digest, exactly as for Slack.
 */
import { classifyHttpStatus, classifyNetworkError, createDispatcher, httpSend, splitUserinfo, type TlsConfig } from "../../src/delivery/http.js";
import type { LaneDefaults, Output, SendResult } from "../../src/delivery/output.js";
import { errorMessage } from "../../src/errors.js";
import { fitMessage, planMessage, type ChatFormat, type DigestSettings, type MessageParts } from "./message.js";

export interface ChatOutputOptions<P> {
  /** The service's name in reasons ("Discord"). */
  service: string;
  url: string;
  headers?: Record<string, string>;
  tls?: TlsConfig;
  format: ChatFormat;
  digest: DigestSettings;
  render(parts: MessageParts): P;
  /** Whether a rendered payload is within the service's documented limits. */
  fits(payload: P): boolean;
  /** A service-specific reading of an answer (e.g. a retry delay in the body); undefined: the HTTP status decides. */
  answer?(status: number, text: string): SendResult | undefined;
}

/** One message per send, sent one at a time at the service's message rate. */
export function chatLaneDefaults(perSecond: number, burst: number): LaneDefaults {
  return { batch: { max_events: 100, max_wait_ms: 0 }, concurrency: 1, rate_limit: { per_second: perSecond, burst } };
}

export function createChatOutput<P>(options: ChatOutputOptions<P>): Output {
  const dispatcher = createDispatcher(options.tls, 2);
  const target = splitUserinfo(options.url);
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8", ...options.headers };
  if (target.authorization !== undefined && headers.authorization === undefined) headers.authorization = target.authorization;
  return {
    async send(batch, signal): Promise<SendResult> {
      let body: string;
      try {
        const plan = planMessage(batch, options.digest);
        body = JSON.stringify(fitMessage(plan, options.format, options.render, options.fits).payload);
      } catch (err) {
        return { kind: "reject", reason: `cannot build the ${options.service} message: ${errorMessage(err)}` };
      }
      try {
        const res = await httpSend(target.url, { method: "POST", headers, body, signal, dispatcher, wantBody: true });
        return options.answer?.(res.status, res.text) ?? classifyHttpStatus(res.status, res.headers, res.text);
      } catch (err) {
        return classifyNetworkError(err);
      }
    },
    async close() {
      await dispatcher.close();
    },
  };
}
