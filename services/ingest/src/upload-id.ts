import { randomBytes } from "node:crypto";

/**
 * A new upload id: `u_`, the creation time in base 36 (fixed width, so ids sort by time as
 * strings), then 40 random bits so uploads started in the same millisecond never collide.
 */
export function newUploadId(now: number = Date.now()): string {
  return `u_${Math.floor(now).toString(36).padStart(9, "0")}${randomBytes(5).toString("hex")}`;
}
