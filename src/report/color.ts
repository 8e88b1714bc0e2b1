// Colours of the human report. Applied only AFTER escaping, so the only
// escape sequences that reach the terminal are these fixed ones.

export type ColorMode = "auto" | "always" | "never";

/** `auto`: colours on a terminal, unless NO_COLOR is set (https://no-color.org) or TERM=dumb. */
export function useColor(
  mode: ColorMode,
  stream: { isTTY?: boolean },
  env: NodeJS.ProcessEnv,
): boolean {
  if (mode === "always") return true;
  if (mode === "never") return false;
  if (stream.isTTY !== true) return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  return env.TERM !== "dumb";
}

const CODES = { red: 31, green: 32, yellow: 33, cyan: 36 } as const;
export type Color = keyof typeof CODES;

/** Wraps already escaped text in a colour when `on`. */
export function paint(text: string, color: Color, on: boolean): string {
  return on ? `\x1b[${CODES[color]}m${text}\x1b[39m` : text;
}
