/** Handlebars templates shared by every templated output: one compiler, one helper set, one error shape. */
export {
  compileTemplate,
  compileTemplateFile,
  checkTemplate,
  jsonEscape,
  type CompileTemplateOptions,
  type CompiledTemplate,
  type TemplateEscape,
} from "./compile.js";
export { TemplateError } from "./errors.js";
export { HELPERS, priorityColor, priorityEmoji, toText, truncateText, type HelperSpec } from "./helpers.js";
export { formatTime, parseTime, type ParsedTime } from "./dates.js";
