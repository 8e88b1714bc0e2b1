/** Permission bits as 4 octal digits, special bits included: 0644, 4755 (SPEC 7.2). */
export function formatMode(mode: number): string {
  return mode.toString(8).padStart(4, "0");
}
