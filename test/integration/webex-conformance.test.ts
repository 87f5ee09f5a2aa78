// The webex output through the real router against the service's contract fake: the shared output conformance suite.
import { defineChatConformance } from "./chat-conformance.js";

defineChatConformance("webex", /HTTP 404: .*could not be found/);
