/**
 * The seam between event sources (the eBPF syscall source, JSONL replay, received alerts)
 * and the rule engine. The engine knows fields by name and type; a source knows how to
 * pull a field's value out of its own event representation. Extractors are resolved once,
 * at rule compile time, so evaluation does no string lookups per event.
 */

export type FieldType =
  | "string"
  | "int"
  | "uint"
  | "bool"
  | "ipaddr"
  | "ipnet"
  | "port"
  | "abstime"
  | "reltime"
  | "bytes";

/** A field's value: scalars, or a list for list-valued fields (e.g. proc.args split, alert.tags). */
export type ExtractedValue = string | number | bigint | boolean | readonly (string | number)[];

export interface FieldInfo {
  name: string;
  type: FieldType;
  /** Whether the field yields several values (Falco's "list" fields). */
  isList?: boolean;
  /** Whether the field takes an argument, as in proc.aname[2] or evt.arg.flags. */
  arg?: "none" | "optional" | "required" | "index";
  /** The argument may also follow a dot: `evt.arg.flags` is `evt.arg[flags]`. */
  dottedArg?: boolean;
  /**
   * Without an argument the field yields one value per ancestor, parent first (proc.aname,
   * proc.apid, ...); a comparison holds when any ancestor's value satisfies it, as in Falco.
   */
  ancestors?: boolean;
  /**
   * The field yields both ends of a connection (fd.ip, fd.net, fd.port): `=` and `in` hold
   * when either end matches, `!=` only when neither does, as Falco compares them.
   */
  bothEnds?: boolean;
  /** One line, published in docs/fields.md. */
  description: string;
}

/** Pulls one field from an event; undefined means "cannot be extracted" (Falco's missing value). */
export type Extractor<E> = (event: E) => ExtractedValue | undefined;

export interface EventSource<E> {
  /** "syscall", "alert", "json", ... */
  readonly name: string;
  /** Every field this source answers, for load-time type checks and docs. */
  readonly fields: ReadonlyMap<string, FieldInfo>;
  /** The event type used by the rule index (e.g. "openat"); undefined for sources without types. */
  eventType(event: E): string | undefined;
  /**
   * Resolved once per field use at compile time. Returns undefined for an unknown field, which
   * fails the rule ("nonexistent field"); a field in `fields` that the source cannot fill yet
   * should get an extractor that returns undefined, so rules using it load and never match it.
   */
  extractor(field: string, arg: string | undefined): Extractor<E> | undefined;
  /**
   * Plain text fields nearly every event has (k8s_audit: ka.verb, ka.target.resource). The
   * ruleset pre-selects an event's rules by the values each rule's condition requires of them,
   * as it does by event type; an event without a text value for one of them meets every rule.
   */
  readonly indexFields?: readonly string[];
}

/** The event types (syscall names) a source can produce; sources without types omit it. */
export interface EventTypeCatalog {
  readonly eventTypes: ReadonlySet<string>;
}

