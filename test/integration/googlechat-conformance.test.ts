// The googlechat output through the real router against the service's contract fake: the shared output conformance suite.
import { defineChatConformance } from "./chat-conformance.js";

defineChatConformance("googlechat", /HTTP 404: .*NOT_FOUND/);
