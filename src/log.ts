import pino, { type Logger } from "pino";

export type { Logger };

/**
 * Paths pino masks in every log line: credentials must never reach logs. Config-shaped
 * objects nest (an output's tls, sasl, hmac), so each key is masked up to three levels down;
 * headers are masked whole, since any header may carry a credential (x-api-key, cookies).
 */
const SECRET_KEYS = ["password", "token", "bearer_token", "session_token", "secret", "secret_access_key", "authorization", "webhook_url", "headers"];
const REDACT = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]);

/** pino options shared by every Peregrine logger (exported for the redaction test). */
export function loggerOptions(level: string): pino.LoggerOptions {
  return { level, redact: { paths: REDACT, censor: "[redacted]" } };
}

export interface LogOptions {
  level?: string;
  /** Pretty output for humans; defaults to whether stderr is a terminal. */
  pretty?: boolean;
}

/** JSON logs on stderr (stdout belongs to the stdout output), pretty on a TTY. */
export function createLogger(options: LogOptions = {}): Logger {
  const level = options.level ?? process.env.PEREGRINE_LOG_LEVEL ?? "info";
  const pretty = options.pretty ?? process.stderr.isTTY === true;
  if (pretty) {
    return pino({
      ...loggerOptions(level),
      transport: { target: "pino-pretty", options: { destination: 2, colorize: true, translateTime: "SYS:HH:MM:ss.l" } },
    });
  }
  return pino(loggerOptions(level), pino.destination({ dest: 2, sync: false }));
}
