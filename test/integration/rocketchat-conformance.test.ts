// The rocketchat output through the real router against the service's contract fake: the shared output conformance suite.
import { defineChatConformance } from "./chat-conformance.js";

defineChatConformance("rocketchat", /HTTP 400: .*Invalid integration id or token/);
