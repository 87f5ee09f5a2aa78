/** Picked up by `peregrine run`: the embedded syscall detector (src/detector/sources/syscall/). */
import { syscallDetectorExtension } from "../detector/sources/syscall/run-extension.js";

export const extension = syscallDetectorExtension();
