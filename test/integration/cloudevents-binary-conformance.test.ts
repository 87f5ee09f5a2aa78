// The cloudevents output in binary mode: the shared output conformance suite (see cloudevents-conformance.ts).
import { defineCloudEventsConformance } from "./cloudevents-conformance.js";

defineCloudEventsConformance("binary");
