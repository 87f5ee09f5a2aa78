import type { SidekickTranslator } from "../sidekick-context.js";

/** Falcosidekick's `aws.s3` (set by `aws.s3.bucket`), with the `aws` credentials. */
export const s3Sidekick: SidekickTranslator = {
  sections: ["aws"],
  translate(ctx) {
    if (ctx.str("aws.s3.bucket") === "") return [];
    const o = ctx.common("aws.s3", "s3", "s3");
    o.bucket = ctx.str("aws.s3.bucket");
    o.prefix = ctx.str("aws.s3.prefix", "falco");
    const region = ctx.str("aws.region");
    if (region !== "") o.region = region;
    const endpoint = ctx.str("aws.s3.endpoint");
    if (endpoint !== "") {
      o.endpoint = endpoint;
      o.force_path_style = true;
    }
    const keyId = ctx.secret("aws.accesskeyid");
    if (keyId !== "") {
      o.access_key_id = keyId;
      o.secret_access_key = ctx.secret("aws.secretaccesskey");
    }
    ctx.leftOut("aws", {
      rolearn: "assume-role is not configured in the S3 output; use the AWS default credential chain (AWS_ROLE_ARN with web identity, or a profile)",
      externalid: "goes with rolearn",
    });
    const acl = ctx.str("aws.s3.objectcannedacl", "bucket-owner-full-control");
    if (acl !== "bucket-owner-full-control") ctx.note("aws.s3.objectcannedacl", "Peregrine writes objects without a canned ACL; use a bucket policy");
    ctx.note("aws.s3 (object layout)", "Falcosidekick writes one JSON object per alert; Peregrine writes batches as NDJSON (gzip) objects under the same prefix");
    return [o];
  },
};
