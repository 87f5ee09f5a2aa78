/**
 * Slack's documented message limits, and the pass that makes any rendered payload fit
 * them: long texts are cut with a visible "truncated" mark, oversized lists are split or
 * cut with a note saying how much was left out. Slack refuses (invalid_blocks) rather than
 * trims most of these, so sending an oversized alert would lose it.
 *
 * Sources: Block Kit reference (50 blocks per message; section text 3000, fields 10 × 2000;
 * header 150; context 10 elements; block_id 255; markdown block 12,000), chat.postMessage
 * (text truncated past 40,000 characters; at most 100 attachments). Lengths are counted in
 * UTF-16 units, which is never less than Slack's count of characters.
 */
import { truncateText } from "../../src/templates/index.js";

export const SLACK_LIMITS = {
  text: 40_000,
  blocks: 50,
  attachments: 100,
  sectionText: 3000,
  sectionFields: 10,
  fieldText: 2000,
  headerText: 150,
  contextElements: 10,
  textObject: 3000,
  blockId: 255,
  markdownBlock: 12_000,
} as const;

export type SlackPayload = Record<string, unknown>;

const MRKDWN_MARK = "… _(truncated)_";
const PLAIN_MARK = "… (truncated)";

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Truncation state of one fitting pass. */
class Fitter {
  truncated = false;

  /** Cuts mrkdwn without leaving half an entity (`&am`) or an open code fence behind. */
  mrkdwn(text: string, max: number): string {
    if (text.length <= max) return text;
    this.truncated = true;
    let kept = truncateText(text, max - MRKDWN_MARK.length - 3, "");
    kept = kept.replace(/&[a-z]{0,5}$/i, "");
    const fences = kept.split("```").length - 1;
    if (fences % 2 === 1) kept += "```";
    return kept + MRKDWN_MARK;
  }

  plain(text: string, max: number): string {
    if (text.length <= max) return text;
    this.truncated = true;
    return truncateText(text, max, PLAIN_MARK).replace(/&[a-z]{0,5}(?=… \(truncated\)$)/i, "");
  }

  /** A text object: within `max`, and never empty (Slack refuses empty text). */
  textObject(t: unknown, max: number): unknown {
    if (!isObject(t)) return t;
    const text = typeof t.text === "string" ? t.text : "";
    const plain = t.type === "plain_text";
    const fitted = text.length === 0 ? (plain ? "-" : "_-_") : plain ? this.plain(text, max) : this.mrkdwn(text, max);
    return fitted === t.text ? t : { ...t, text: fitted };
  }

  /** A section with more than 10 fields becomes several sections of at most 10. */
  block(b: unknown): unknown[] {
    if (!isObject(b)) return [b];
    let block: Obj = b;
    if (typeof block.block_id === "string" && block.block_id.length > SLACK_LIMITS.blockId) {
      const { block_id: _dropped, ...rest } = block;
      block = rest;
    }
    switch (block.type) {
      case "header":
        return [{ ...block, text: this.textObject(block.text, SLACK_LIMITS.headerText) }];
      case "markdown":
        return [{ ...block, text: this.mrkdwn(typeof block.text === "string" && block.text ? block.text : "-", SLACK_LIMITS.markdownBlock) }];
      case "context": {
        let elements = Array.isArray(block.elements) ? block.elements : [];
        if (elements.length > SLACK_LIMITS.contextElements) {
          this.truncated = true;
          const left = elements.length - (SLACK_LIMITS.contextElements - 1);
          elements = [...elements.slice(0, SLACK_LIMITS.contextElements - 1), { type: "mrkdwn", text: `_… ${left} more (truncated)_` }];
        }
        return [{ ...block, elements: elements.map((e) => (isObject(e) && e.type === "image" ? e : this.textObject(e, SLACK_LIMITS.textObject))) }];
      }
      case "section": {
        const out: Obj = { ...block };
        if (block.text !== undefined) out.text = this.textObject(block.text, SLACK_LIMITS.sectionText);
        if (!Array.isArray(block.fields)) return [out];
        const fields = block.fields.map((f) => this.textObject(f, SLACK_LIMITS.fieldText));
        if (fields.length <= SLACK_LIMITS.sectionFields) return [{ ...out, fields }];
        const sections: unknown[] = [];
        for (let i = 0; i < fields.length; i += SLACK_LIMITS.sectionFields) {
          const chunk = fields.slice(i, i + SLACK_LIMITS.sectionFields);
          if (i === 0) sections.push({ ...out, fields: chunk });
          else sections.push({ type: "section", fields: chunk });
        }
        return sections;
      }
      default:
        return [block];
    }
  }

  blocks(blocks: unknown): unknown {
    if (!Array.isArray(blocks)) return blocks;
    const out = blocks.flatMap((b) => this.block(b));
    if (out.length <= SLACK_LIMITS.blocks) return out;
    this.truncated = true;
    const kept = out.slice(0, SLACK_LIMITS.blocks - 1);
    kept.push({
      type: "context",
      elements: [{ type: "mrkdwn", text: `_… ${out.length - kept.length} more blocks not shown (truncated to Slack's limit of ${SLACK_LIMITS.blocks})_` }],
    });
    return kept;
  }

  attachment(a: unknown): unknown {
    if (!isObject(a)) return a;
    const out: Obj = { ...a };
    for (const key of ["text", "pretext", "fallback"]) if (typeof a[key] === "string") out[key] = this.mrkdwn(a[key] as string, SLACK_LIMITS.text);
    if (a.blocks !== undefined) out.blocks = this.blocks(a.blocks);
    return out;
  }
}

/** Returns a payload within Slack's limits and whether anything had to be cut. */
export function fitToSlackLimits(payload: SlackPayload): { payload: SlackPayload; truncated: boolean } {
  const f = new Fitter();
  const out: SlackPayload = { ...payload };
  if (typeof payload.text === "string") out.text = f.mrkdwn(payload.text, SLACK_LIMITS.text);
  if (payload.blocks !== undefined) out.blocks = f.blocks(payload.blocks);
  if (Array.isArray(payload.attachments)) {
    let attachments = payload.attachments.map((a) => f.attachment(a));
    if (attachments.length > SLACK_LIMITS.attachments) {
      f.truncated = true;
      const left = attachments.length - (SLACK_LIMITS.attachments - 1);
      attachments = [...attachments.slice(0, SLACK_LIMITS.attachments - 1), { color: "#9e9e9e", text: `_… ${left} more attachments not shown (truncated)_` }];
    }
    out.attachments = attachments;
  }
  return { payload: out, truncated: f.truncated };
}
