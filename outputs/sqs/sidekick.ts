import type { SidekickTranslator } from "../sidekick-context.js";

/** Falcosidekick's `aws.sqs` (set by `aws.sqs.url`), with the `aws` credentials and region. */
export const sqsSidekick: SidekickTranslator = {
  sections: ["aws", "aws.sqs"],
  translate(ctx) {
    const url = ctx.str("aws.sqs.url");
    if (url === "") return [];
    const o = ctx.common("aws.sqs", "sqs", "sqs");
    o.queue_url = url;
    const region = ctx.str("aws.region");
    if (region !== "") o.region = region;
    const keyId = ctx.secret("aws.accesskeyid");
    if (keyId !== "") {
      o.access_key_id = keyId;
      o.secret_access_key = ctx.secret("aws.secretaccesskey");
    }
    if (ctx.str("aws.rolearn") !== "")
      ctx.note("aws.rolearn (sqs)", "assume-role is not configured in the SQS output; use the AWS default credential chain (AWS_ROLE_ARN with web identity, or a profile)");
    return [o];
  },
};
