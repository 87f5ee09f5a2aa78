/**
 * fd.sip.name and its siblings, as Falco answers them: not by reverse DNS of every address,
 * but by resolving the names the rules compare against (kubernetes.default.svc...) and
 * asking whether an event's address is one of theirs. A rule's names are registered when it
 * compiles and looked up in the background; the cache is refreshed every `ttlMs`.
 */
import { promises as dns } from "node:dns";

export type ResolveAll = (name: string) => Promise<string[]>;

const systemResolve: ResolveAll = async (name) => (await dns.lookup(name, { all: true })).map((a) => a.address);

export class HostNames {
  private readonly addrsOf = new Map<string, Set<string>>();
  private readonly nameOfAddr = new Map<string, string>();
  private readonly pending = new Set<Promise<void>>();
  private refreshedAt = 0;

  constructor(
    private readonly resolve: ResolveAll = systemResolve,
    private readonly ttlMs = 30_000,
  ) {}

  /** Starts resolving `name` (once; refreshed with the others). */
  watch(name: string): void {
    if (this.addrsOf.has(name)) return;
    this.addrsOf.set(name, new Set());
    this.lookup(name);
  }

  /** A watched name `ip` belongs to; "" when none does (so `!=` holds, as in Falco). */
  nameOf(ip: string): string {
    const now = Date.now();
    if (now - this.refreshedAt > this.ttlMs) {
      this.refreshedAt = now;
      for (const name of this.addrsOf.keys()) this.lookup(name);
    }
    return this.nameOfAddr.get(ip) ?? "";
  }

  /** Resolves when every lookup started so far has finished (for tests and start-up). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  private lookup(name: string): void {
    const p = this.resolve(name)
      .then(
        (addrs) => this.update(name, new Set(addrs)),
        // an unresolvable name keeps its last answer: a DNS outage must not blind a rule
        () => undefined,
      )
      .finally(() => this.pending.delete(p));
    this.pending.add(p);
  }

  private update(name: string, addrs: Set<string>): void {
    const old = this.addrsOf.get(name);
    if (old) for (const a of old) if (this.nameOfAddr.get(a) === name && !addrs.has(a)) this.nameOfAddr.delete(a);
    this.addrsOf.set(name, addrs);
    for (const a of addrs) if (!this.nameOfAddr.has(a)) this.nameOfAddr.set(a, name);
  }
}
