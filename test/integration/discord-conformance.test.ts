// The discord output through the real router against the service's contract fake: the shared output conformance suite.
import { defineChatConformance } from "./chat-conformance.js";

defineChatConformance("discord", /HTTP 404: .*Unknown Webhook/);
