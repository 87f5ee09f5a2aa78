/**
 * The contract between the response engine and its actionners (Falco Talon's name for the
 * things that act: `kubernetes:terminate`, `process:kill`, ...).
 *
 * An action runs in two steps so that a crash between them is safe: `resolve` names the exact
 * object the action will touch (a pod by uid, a process by pid and start time), the engine
 * journals that target, then `run` acts on the recorded target only. After a restart the engine
 * calls `run` again with the recorded target; an actionner checks the identity (uid
 * precondition, start time) so a replaced object is never hit, and answers `gone` when the
 * target no longer exists.
 */
import type { Alert } from "../alert.js";

/** Parameters of an action after a rule's overrides (Talon's `parameters:` map). */
export type ActionParameters = Readonly<Record<string, unknown>>;

/** The object an action touches, resolved from an alert before the action runs. */
export interface ActionTarget {
  /** `pod`, `node`, `namespace`, `process`, `container`, `function`, ... */
  readonly kind: string;
  /** What a person reads in records and notifications: `pod default/web-1`, `pid 4242 (nc)`. */
  readonly description: string;
  /**
   * The identity the action is bound to, journaled before it runs: for a pod its namespace,
   * name and uid; for a process its pid and start time. Strings only, so it round-trips
   * through the journal unchanged. The allowlist reads these keys when present: `namespace`,
   * `name` (of a pod, node or container), `pid`, `container_id`, `container_name`; for kind
   * `container`, `id` too.
   */
  readonly identity: Readonly<Record<string, string>>;
}

/** A file an action produced (logs, a downloaded file, a script's output) for its `output` target. */
export interface ActionArtifact {
  readonly name: string;
  readonly contentType: string;
  readonly data: Uint8Array;
}

export type ResolveResult =
  | { readonly ok: true; readonly target: ActionTarget }
  /** The alert lacks what the action needs (e.g. no `k8s.pod.name`): recorded, never retried. */
  | { readonly ok: false; readonly code: string; readonly message: string };

export type ActionResult =
  | {
      readonly status: "done";
      readonly message: string;
      /** Objects created or changed, by kind: `{ networkpolicy: "default/deny-web-1" }`. */
      readonly objects?: Readonly<Record<string, string>>;
      readonly artifacts?: readonly ActionArtifact[];
    }
  /** The target no longer exists, or is not the one recorded (pod replaced, pid reused). */
  | { readonly status: "gone"; readonly message: string }
  | { readonly status: "failed"; readonly code: string; readonly message: string; readonly retryable: boolean };

export interface ActionRequest {
  readonly alert: Alert;
  readonly parameters: ActionParameters;
  readonly target: ActionTarget;
  readonly signal: AbortSignal;
}

export interface Actionner {
  /** Talon's name, `category:action`, e.g. `kubernetes:terminate`. */
  readonly name: string;
  readonly description: string;
  /** Problems with the parameters, each naming the parameter; empty when they are valid. */
  checkParameters(parameters: ActionParameters): string[];
  /** Names the target from the alert's fields; never acts. */
  resolve(alert: Alert, parameters: ActionParameters): ResolveResult | Promise<ResolveResult>;
  /** Acts on the recorded target only; idempotent for a target it already acted on. */
  run(request: ActionRequest): Promise<ActionResult>;
  /**
   * Whether a rule's next action runs after this one when the action sets no `continue:`
   * (Talon's per-actionner default: false for kubernetes:terminate and kubernetes:delete).
   * Unset is true.
   */
  readonly continueByDefault?: boolean;
  /** Whether the action produces artifacts for an `output:` target: none (unset), allowed, required. */
  readonly output?: "allowed" | "required";
}
