/** One chat message as text in a service's markup (Markdown variants, Telegram's HTML). */
import { omittedNote, quietMentions, type AlertSection, type MessageParts } from "./message.js";

export interface Markup {
  bold(text: string): string;
  italic(text: string): string;
  /** Makes alert text inert: no formatting, no pings, no links it did not have. */
  escape(text: string): string;
}

/** CommonMark-style services (Mattermost, Rocket.Chat, Webex, Discord): backslash escapes. */
export const markdown: Markup = {
  bold: (t) => `**${t}**`,
  italic: (t) => `_${t}_`,
  escape: (t) => quietMentions(t.replace(/([\\`*_~|<>[\]])/g, "\\$1")),
};

export function sectionText(sec: AlertSection, m: Markup): string {
  const lines = [m.bold(m.escape(sec.title))];
  if (sec.output !== undefined) lines.push(m.escape(sec.output));
  for (const f of sec.fields) lines.push(`${m.bold(m.escape(f.name))}: ${m.escape(f.value)}`);
  lines.push(m.italic(m.escape(sec.footer)));
  return lines.join("\n");
}

export function messageText(parts: MessageParts, m: Markup): string {
  const blocks = parts.sections.map((sec) => sectionText(sec, m));
  const note = omittedNote(parts);
  if (note) blocks.push(m.italic(m.escape(note)));
  if (parts.digest !== undefined) blocks.push(m.bold(m.escape(parts.digest)));
  return blocks.join("\n\n");
}
