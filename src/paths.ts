// Files of the installed package. This file sits one level below the package
// root both as src/paths.ts (tests) and inside dist/safcm.cjs (the bundle),
// so "../" is the package root in both cases.

export function packageFile(relative: string): URL {
  return new URL(`../${relative}`, import.meta.url);
}
