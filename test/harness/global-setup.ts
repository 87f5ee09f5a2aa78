// Starts the real services the suite needs before any test runs. Filled in by the harness.
export default async function setup(): Promise<() => Promise<void>> {
  return async () => {};
}
