/** NATS subjects from Falcosidekick's subject template (kept apart so the config importer loads no client). */
import type { Alert } from "../../src/alert.js";

/** Falcosidekick's default subject. */
export const DEFAULT_SUBJECT = "falco.<priority>.<rule>";
const TOKENS = ["priority", "rule", "source", "hostname"] as const;

/** Compiles a subject template into a function of the alert; throws on a template NATS cannot use. */
export function compileSubject(template: string): (alert: Alert) => string {
  if (/\s/.test(template)) throw new Error(`a subject has no spaces: "${template}"`);
  if (template.split(".").some((t) => t === "")) throw new Error(`"${template}" has an empty token (two dots, or a dot at an end)`);
  if (/[*>]/.test(template.replace(/<[a-z]+>/g, ""))) throw new Error("publish subjects cannot hold the wildcards * or >");
  for (const m of template.matchAll(/<([a-z]+)>/g))
    if (!(TOKENS as readonly string[]).includes(m[1]!)) throw new Error(`unknown token <${m[1]}> (use ${TOKENS.map((t) => `<${t}>`).join(", ")})`);
  return (alert) =>
    template.replace(/<(priority|rule|source|hostname)>/g, (_, name: (typeof TOKENS)[number]) => slug(String(alert[name] ?? "")) || "_");
}

/** Falcosidekick's slug of a rule name: lower case, each run of other characters an underscore, none at the ends. */
export function slug(value: string): string {
  return value.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
}
