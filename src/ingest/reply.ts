import type { ErrorCode } from "../errors.js";

/** Every refusal of the HTTP API: a stable code, a message, and the field (and batch index) at fault. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; field?: string; index?: number };
}

export function errorBody(code: ErrorCode, message: string, extra: { field?: string; index?: number } = {}): ErrorBody {
  return { error: { code, message, ...extra } };
}
