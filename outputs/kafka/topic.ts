/**
 * Topics and keys. A topic may be a template, but only after a literal prefix, and what the
 * template renders is reduced to Kafka's topic characters: an alert's fields can pick
 * `falco.critical` under `falco.{{priority}}`, never an arbitrary topic.
 */
import type { Alert } from "../../src/alert.js";
import { compileTemplate, type CompiledTemplate } from "../../src/templates/index.js";
import { PeregrineError } from "../../src/errors.js";

export const MAX_TOPIC_LENGTH = 249;
const TOPIC_CHARS = /^[A-Za-z0-9._-]+$/;

export class TopicConfigError extends PeregrineError {
  constructor(message: string) {
    super("CONFIG_INVALID", message);
    this.name = "TopicConfigError";
  }
}

export interface TopicRouter {
  /** The topic when it does not depend on the alert. */
  readonly fixed?: string;
  topicFor(alert: Alert): string;
}

/** Throws TopicConfigError (or a template's TemplateError) with a message for `config check`. */
export function compileTopic(topic: string, name = "topic"): TopicRouter {
  const at = topic.indexOf("{{");
  if (at < 0) {
    checkTopicName(topic);
    return { fixed: topic, topicFor: () => topic };
  }
  const prefix = topic.slice(0, at);
  if (prefix === "")
    throw new TopicConfigError(`a template may only follow a literal prefix, e.g. "falco.{{priority}}"; got "${topic}"`);
  if (!TOPIC_CHARS.test(prefix)) throw new TopicConfigError(`the prefix "${prefix}" has characters Kafka does not allow in a topic (use A-Z a-z 0-9 . _ -)`);
  const template = compileTemplate(topic.slice(at), { name, escape: "none" });
  return {
    topicFor(alert) {
      const suffix = template.render(alert).toLowerCase().replace(/[^a-z0-9._-]+/g, "_") || "_";
      return (prefix + suffix).slice(0, MAX_TOPIC_LENGTH);
    },
  };
}

function checkTopicName(topic: string): void {
  if (topic === "" || topic === "." || topic === "..") throw new TopicConfigError(`"${topic}" is not a valid topic name`);
  if (topic.length > MAX_TOPIC_LENGTH) throw new TopicConfigError(`topic names are at most ${MAX_TOPIC_LENGTH} characters`);
  if (!TOPIC_CHARS.test(topic)) throw new TopicConfigError(`"${topic}" has characters Kafka does not allow in a topic (use A-Z a-z 0-9 . _ -)`);
}

/** The record key: a template over the alert; an empty result sends no key. */
export function compileKey(source: string, name = "key"): (alert: Alert) => string | null {
  const template: CompiledTemplate = compileTemplate(source, { name, escape: "none" });
  return (alert) => {
    const key = template.render(alert);
    return key === "" ? null : key;
  };
}
