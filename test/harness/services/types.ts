/** One real service the harness can provision (cached), start, check and stop. */
export interface ServiceDef {
  name: string;
  summary: string;
  /** Downloads/builds/initializes what the service needs; idempotent and cached. */
  provision(): Promise<void>;
  /** Spawns the daemon (does not wait for readiness). */
  spawn(): void;
  /** True once the service answers real requests, not merely once its port is open. */
  ready(): Promise<boolean>;
  readyTimeoutMs: number;
  /** TCP ports the service owns: a port taken by a stranger is reported, never killed. */
  ports: number[];
  /** Services started (and ready) before this one provisions. */
  requires?: readonly string[];
  /**
   * Heavy or root-only: left out of the default set global setup starts; the tests that need
   * it start it themselves (services.start), or PEREGRINE_SERVICES names it.
   */
  onDemand?: boolean;
  /** Variables a client needs (`npm run services -- env` prints them as KEY=VALUE). */
  env?(): Record<string, string>;
}
