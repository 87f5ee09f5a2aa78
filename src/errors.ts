/**
 * Every error a user can see carries a stable code. The catalog below is the single
 * source: docs/errors.md is checked against it by test/unit/errors.test.ts.
 */
export const ERROR_CODES = {
  // ingest
  INGEST_INVALID_JSON: "The request body is not valid JSON or NDJSON.",
  INGEST_INVALID_FIELD: "An alert field is missing or has the wrong type or value.",
  INGEST_EMPTY_BODY: "The request body holds no alert.",
  INGEST_BODY_TOO_LARGE: "The request body is larger than ingest.max_body_bytes.",
  INGEST_UNSUPPORTED_MEDIA_TYPE: "The Content-Type is not JSON or NDJSON.",
  INGEST_METHOD_NOT_ALLOWED: "The route does not accept this HTTP method.",
  INGEST_UNAUTHORIZED: "Ingest authentication is on and the bearer token is missing or wrong.",
  INGEST_STORAGE_FULL: "The journal reached storage.max_bytes; retry later.",
  INGEST_SHUTTING_DOWN: "The router is stopping and accepts no new alerts.",
  INGEST_NOT_FOUND: "No such route.",
  INGEST_BAD_URL: "The request's URL does not decode (a malformed percent escape, e.g. /%ZZ).",
  INGEST_TOO_DEEP: "An alert nests objects and arrays deeper than ingest.max_depth.",
  // k8s_audit endpoint (detector.k8s_audit)
  K8S_AUDIT_INVALID_BODY: "An audit webhook body is not JSON, not an audit.k8s.io/v1 EventList or Event, or holds an event without a valid stageTimestamp; nothing of it was evaluated.",
  K8S_AUDIT_BODY_TOO_LARGE: "An audit webhook body is larger than detector.k8s_audit.max_body_bytes.",
  K8S_AUDIT_UNSUPPORTED_MEDIA_TYPE: "An audit webhook body's Content-Type is not application/json.",
  K8S_AUDIT_METHOD_NOT_ALLOWED: "The audit endpoint takes POST only.",
  K8S_AUDIT_NOT_FOUND: "No such route on the audit endpoint (its path is detector.k8s_audit.path).",
  K8S_AUDIT_BUSY: "detector.k8s_audit.max_in_flight batches are being handled; retry after the Retry-After seconds.",
  K8S_AUDIT_NOT_JOURNALED: "The alerts of an audit batch could not be journaled (journal full or a write failed); retry after the Retry-After seconds.",
  // config
  CONFIG_INVALID: "The configuration has one or more problems.",
  CONFIG_FILE_UNREADABLE: "The configuration file cannot be read.",
  CONFIG_YAML_PARSE: "The configuration file is not valid YAML.",
  CONFIG_INSECURE_LISTEN: "listen.address is beyond loopback with no ingest.auth.tokens and no listen.tls.client_ca; set one, or listen.allow_insecure: true.",
  LISTEN_TLS_INVALID: "A listen.tls file cannot be read, or the certificate and key do not form a valid pair.",
  // storage
  STORAGE_OPEN_FAILED: "The journal cannot be opened at storage.path.",
  STORAGE_WRITE_FAILED: "The journal could not write; the alerts were not accepted, retry later.",
  STORAGE_LOCKED: "Another router (the message names its pid) holds the lock on storage.path; two routers must not share a journal.",
  STORAGE_CORRUPT: "The journal database at storage.path is damaged; the router refuses to start on it and changes nothing.",
  STORAGE_JOURNAL_LOST: "The journal is empty or gone although its marker (journal.id) says one was kept there; start with --start-fresh to accept the loss.",
  STORAGE_WAL_LOST: "The journal's write-ahead log was deleted or replaced while the router ran; what it held was saved from the open file if possible.",
  INTERNAL_ERROR: "An unexpected error; the log has details.",
  // detector
  SENSOR_UNAVAILABLE: "The eBPF sensor cannot run on this host (privileges, BTF, tracefs or ring buffer); the message says what to grant.",
  DETECTOR_RULES_INVALID: "The detector's rules or its config section have errors.",
  RULES_OPTIONS_INVALID: "The detector's rule selection (detector.rules) or append_output is not shaped as documented; the message names each entry.",
  SENSOR_WIRE: "The sensor's stream held a frame the detector cannot decode; the sensor is restarted, and the detector's stats count it.",
  KUBERNETES_CONFIG_INVALID: "detector.kubernetes names credentials that cannot be used: not in a pod (no service account), an unreadable token or kubeconfig, or a kubeconfig without the context, cluster, user or server it needs.",
  KUBERNETES_API_ERROR: "The Kubernetes API server answered an error (the message names the request and its status): for pod metadata, the list or watch is retried and the fields stay unknown meanwhile; for a response action, the action fails with the reason (retried when the status says it may succeed later).",
  CONTAINER_ENGINE_DOWN: "A container engine (docker, podman, containerd, CRI) cannot be asked: its socket is missing, refused or timed out, or it answered an error; container fields stay unknown meanwhile.",
  // cli
  CLI_USAGE: "The command line is not understood.",
  RULES_EVENTS_INVALID: "A line of the events file given to `peregrine rules test` is not a valid event; the message names the line and the field.",
  // rules update
  RULES_UPDATE_UNREACHABLE: "`peregrine rules update` cannot reach the registry (offline, DNS, refused or timed out); the installed rules are unchanged.",
  RULES_UPDATE_REGISTRY_ERROR: "The registry answered an error: no such artifact or tag, anonymous pulls refused, or a server failure.",
  RULES_UPDATE_DIGEST_MISMATCH: "A downloaded manifest or blob does not match its digest or size; nothing was installed.",
  RULES_UPDATE_NOT_RULESFILE: "The artifact is not a Falco rulesfile (its media types, or its layer is not a tar.gz of .yaml files).",
  RULES_UPDATE_INVALID_RULES: "The artifact's rules do not load in this engine; nothing was installed.",
  RULES_UPDATE_WRITE_FAILED: "The rules folder cannot be written.",
  // delivery
  DELIVERY_UNKNOWN_OUTPUT: "No output has that name.",
  // response
  RESPONSE_RULES_INVALID: "A response rules file (Falco Talon's format) has errors; the message names each one's file, line and column.",
  RESPONSE_TARGET_UNRESOLVED: "An action's target cannot be named from the alert (a field it needs is missing, or the API to look it up does not answer); recorded, not retried.",
  RESPONSE_TARGET_GONE: "An action's target no longer exists, or is not the one the alert saw (a reused pid, a replaced pod); nothing was done to it.",
  RESPONSE_REFUSED: "An action's target is on the allowlist (pid 1, kube-system, the router itself, response.allowlist); no rule can override it.",
  RESPONSE_RATE_LIMITED: "An actionner is past its rate limit (response.rate_limit, response.rate_limits); the action was refused, not queued.",
  RESPONSE_ACTION_FAILED: "An action failed permanently; the alert is dead-lettered for the response lane with the reason.",
  RESPONSE_ACTION_RETRY: "An action failed with a transient error; the response lane tries the alert again, on the recorded target.",
  // templates
  TEMPLATE_INVALID: "A Handlebars template does not compile; the message names its line and column.",
  TEMPLATE_RENDER_FAILED: "A template failed while rendering an alert.",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * The HTTP status each code is answered with, for the codes an HTTP endpoint answers
 * (the router's API, the dashboard's, the audit endpoint). test/unit/error-codes.test.ts
 * checks every status written beside a code in the source against this table.
 */
export const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  INGEST_INVALID_JSON: 400,
  INGEST_INVALID_FIELD: 400,
  INGEST_EMPTY_BODY: 400,
  INGEST_BODY_TOO_LARGE: 413,
  INGEST_UNSUPPORTED_MEDIA_TYPE: 415,
  INGEST_METHOD_NOT_ALLOWED: 405,
  INGEST_UNAUTHORIZED: 401,
  INGEST_STORAGE_FULL: 503,
  INGEST_SHUTTING_DOWN: 503,
  INGEST_NOT_FOUND: 404,
  INGEST_BAD_URL: 400,
  INGEST_TOO_DEEP: 400,
  K8S_AUDIT_INVALID_BODY: 400,
  K8S_AUDIT_BODY_TOO_LARGE: 413,
  K8S_AUDIT_UNSUPPORTED_MEDIA_TYPE: 415,
  K8S_AUDIT_METHOD_NOT_ALLOWED: 405,
  K8S_AUDIT_NOT_FOUND: 404,
  K8S_AUDIT_BUSY: 429,
  K8S_AUDIT_NOT_JOURNALED: 503,
  STORAGE_WRITE_FAILED: 503,
  DELIVERY_UNKNOWN_OUTPUT: 400,
  INTERNAL_ERROR: 500,
};

export class PeregrineError extends Error {
  readonly code: ErrorCode;
  readonly field?: string;
  constructor(code: ErrorCode, message: string, options?: { field?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "PeregrineError";
    this.code = code;
    if (options?.field !== undefined) this.field = options.field;
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
