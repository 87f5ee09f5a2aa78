/**
 * aws:lambda — invokes a Lambda function with the alert as its payload (Falco Talon's name,
 * parameters and payload). The function is looked up when the target is resolved, so an
 * action on a function that does not exist is recorded as such and never retried.
 */
import { GetFunctionCommand, InvokeCommand, LambdaClient, type LambdaClientConfig } from "@aws-sdk/client-lambda";
import type { Alert } from "../../../alert.js";
import type { ActionParameters, Actionner, ResolveResult } from "../../actionner.js";

/** Where the Lambda client connects; the AWS default chain (env, profile, web identity, instance role) without it. */
export interface AwsConfig {
  region?: string;
  endpoint?: string;
  access_key_id?: string;
  secret_access_key?: string;
  session_token?: string;
}

let awsConfig: AwsConfig = {};
let client: LambdaClient | undefined;

export function useAwsConfig(c: AwsConfig): void {
  awsConfig = c;
  client?.destroy();
  client = undefined;
}

function lambda(): LambdaClient {
  if (client) return client;
  const cfg: LambdaClientConfig = { region: awsConfig.region ?? process.env.AWS_REGION ?? "us-east-1", maxAttempts: 1 };
  if (awsConfig.endpoint) cfg.endpoint = awsConfig.endpoint;
  if (awsConfig.access_key_id && awsConfig.secret_access_key)
    cfg.credentials = { accessKeyId: awsConfig.access_key_id, secretAccessKey: awsConfig.secret_access_key, ...(awsConfig.session_token ? { sessionToken: awsConfig.session_token } : {}) };
  client = new LambdaClient(cfg);
  return client;
}

const INVOCATION_TYPES = ["RequestResponse", "Event", "DryRun"] as const;
type InvocationType = (typeof INVOCATION_TYPES)[number];

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

function params(p: ActionParameters): { name: string; qualifier: string; type: InvocationType } {
  return {
    name: str(p.aws_lambda_name) ?? "",
    qualifier: str(p.aws_lambda_alias_or_version) ?? "$LATEST",
    type: (str(p.aws_lambda_invocation_type) as InvocationType | undefined) ?? "RequestResponse",
  };
}

interface SdkError {
  name?: string;
  $metadata?: { httpStatusCode?: number };
  message?: string;
}

const retryable = (err: unknown): boolean => {
  const status = (err as SdkError).$metadata?.httpStatusCode;
  return status === undefined || status === 429 || status >= 500 || (err as SdkError).name === "TooManyRequestsException";
};

/** Talon's payload: the Falco event as it arrived. */
function payload(alert: Alert): Uint8Array {
  return Buffer.from(
    JSON.stringify({
      uuid: alert.uuid,
      output: alert.output,
      priority: alert.priority,
      rule: alert.rule,
      time: alert.time,
      output_fields: alert.output_fields,
      source: alert.source,
      tags: alert.tags,
      hostname: alert.hostname,
    }),
  );
}

export const lambdaActionner: Actionner = {
  name: "aws:lambda",
  description: "Invoke an AWS Lambda function forwarding the alert as its payload",
  checkParameters(p) {
    const problems: string[] = [];
    if (!str(p.aws_lambda_name)) problems.push("aws_lambda_name: required");
    if (p.aws_lambda_alias_or_version !== undefined && typeof p.aws_lambda_alias_or_version !== "string") problems.push("aws_lambda_alias_or_version: must be a string");
    const t = p.aws_lambda_invocation_type;
    if (t !== undefined && !(INVOCATION_TYPES as readonly unknown[]).includes(t)) problems.push(`aws_lambda_invocation_type: must be one of ${INVOCATION_TYPES.join(", ")}, got ${JSON.stringify(t)}`);
    return problems;
  },
  async resolve(_alert, parameters): Promise<ResolveResult> {
    const { name, qualifier } = params(parameters);
    try {
      const f = await lambda().send(new GetFunctionCommand({ FunctionName: name, ...(qualifier !== "$LATEST" ? { Qualifier: qualifier } : {}) }));
      const arn = f.Configuration?.FunctionArn ?? name;
      return { ok: true, target: { kind: "function", description: `lambda ${name}:${qualifier}`, identity: { name, qualifier, arn } } };
    } catch (err) {
      const e = err as SdkError;
      if (e.name === "ResourceNotFoundException" || e.$metadata?.httpStatusCode === 404)
        return { ok: false, code: "RESPONSE_TARGET_GONE", message: `lambda function ${name}:${qualifier} does not exist` };
      return { ok: false, code: "RESPONSE_TARGET_UNRESOLVED", message: `looking up lambda function ${name}: ${e.name ?? "Error"}: ${e.message ?? String(err)}` };
    }
  },
  async run(req) {
    const { type } = params(req.parameters);
    const { name, qualifier } = req.target.identity;
    try {
      const out = await lambda().send(
        new InvokeCommand({ FunctionName: name, Qualifier: qualifier, InvocationType: type, Payload: payload(req.alert) }),
        { abortSignal: req.signal },
      );
      const status = out.StatusCode ?? 0;
      const body = out.Payload ? Buffer.from(out.Payload).toString("utf8") : "";
      if (out.FunctionError) return { status: "failed", code: "RESPONSE_ACTION_FAILED", message: `lambda ${name}:${qualifier} failed (${out.FunctionError}): ${body.slice(0, 1000)}`, retryable: false };
      const ok = type === "RequestResponse" ? status === 200 : type === "Event" ? status === 202 : status === 204;
      if (!ok) return { status: "failed", code: "RESPONSE_ACTION_FAILED", message: `lambda ${name}:${qualifier} answered status ${status}`, retryable: status >= 500 };
      return {
        status: "done",
        message: `the lambda function '${name}' (${qualifier}) has been invoked (${type}, status ${status})${body ? `: ${body.slice(0, 1000)}` : ""}`,
        objects: { name, version: out.ExecutedVersion ?? qualifier },
      };
    } catch (err) {
      const e = err as SdkError;
      if (e.name === "ResourceNotFoundException") return { status: "gone", message: `lambda function ${name}:${qualifier} no longer exists` };
      return { status: "failed", code: "RESPONSE_ACTION_FAILED", message: `invoking lambda ${name}:${qualifier}: ${e.name ?? "Error"}: ${e.message ?? String(err)}`, retryable: retryable(err) };
    }
  },
};
