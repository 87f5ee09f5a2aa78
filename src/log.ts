import pino, { type Logger } from "pino";

export type { Logger };

/** Paths pino masks in every log line: credentials must never reach logs. */
const REDACT = [
  "password",
  "*.password",
  "token",
  "*.token",
  "secret",
  "*.secret",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  "webhook_url",
  "*.webhook_url",
  "sasl.password",
  "*.sasl.password",
  "hmac.secret",
  "*.hmac.secret",
];

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
      level,
      redact: { paths: REDACT, censor: "[redacted]" },
      transport: { target: "pino-pretty", options: { destination: 2, colorize: true, translateTime: "SYS:HH:MM:ss.l" } },
    });
  }
  return pino({ level, redact: { paths: REDACT, censor: "[redacted]" } }, pino.destination({ dest: 2, sync: false }));
}
