/** The event the syscall source hands the rule engine, and its parameters by Falco's names. */
import type { FdInfo, Proc } from "./state.js";
import type { SockTuple, SyscallSpec } from "./wire.js";

export type ArgValue = number | string | Buffer | SockTuple | undefined;

export interface SyscallEvent {
  /** evt.num: sequence number since the detector started. */
  num: number;
  /** evt.type: the syscall name. */
  type: string;
  spec: SyscallSpec | undefined;
  /** Nanoseconds since boot. */
  tsBoot: number;
  tid: number;
  ret: number;
  /** Effective ids of the thread at the event. */
  uid: number;
  gid: number;
  proc: Proc;
  /** The descriptor the event concerns, when it has one. */
  fd: FdInfo | undefined;
  fdNum: number | undefined;
  /** True when the event gave the descriptor its name (connect, accept, bind, open...). */
  fdNameChanged: boolean;
  /** Falco's parameter names, and the values in the same order (see eventArg). */
  argNames: readonly string[];
  argValues: ArgValue[];
  /** open flags of an open* event, or the exe flags of an exec. */
  flags: number | undefined;
  /**
   * Paths of descriptor arguments, by argument position, sent by the sensor when the table
   * cannot know them (the kernel-side filter kept the open that made them).
   */
  fdPaths?: (string | undefined)[] | undefined;
  /**
   * evt.arg values of relative path parameters joined to their directory (the cwd, or the
   * dirfd's path), by parameter index, as Falco resolves them; undefined where the raw
   * value stands.
   */
  resolvedArgs?: (string | undefined)[] | undefined;
}

/** One argument by Falco's name; undefined when the event has no such argument. */
export function eventArg(e: SyscallEvent, name: string): ArgValue {
  const i = e.argNames.indexOf(name);
  if (i >= 0) return e.argValues[i];
  if (name === "fd" && e.fdNum !== undefined) return e.fdNum;
  return undefined;
}
