// The telegram output through the real router against the service's contract fake: the shared output conformance suite.
import { defineChatConformance } from "./chat-conformance.js";

defineChatConformance("telegram", /HTTP 401: Unauthorized/);
