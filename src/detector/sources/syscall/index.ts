/** The sensor-backed syscall source: what the CLI and the router wire in. */
export { startSyscallDetector, interestSet, SensorError } from "./detector.js";
export type { SyscallDetector, SyscallDetectorOptions, SyscallDetectorStats } from "./detector.js";
export { checkSensorPrerequisites, defaultSensorBinary } from "./prerequisites.js";
export type { PrerequisiteResult } from "./prerequisites.js";
export { createSyscallSource } from "./source.js";
export type { SyscallEvent } from "./tracker.js";
export { defaultRulesFiles, detectorSchema, readDetectorConfig, shippedRulesDir } from "./config.js";
export type { DetectorConfig } from "./config.js";
