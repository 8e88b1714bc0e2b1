// `safcm runtime fetch [x64|arm64]` (SPEC 4, 5.6): puts the bundled runtime
// into the workstation's cache ahead of time, e.g. before going offline.

import { ConfigError } from "../errors.ts";
import {
  cachedPackagePath,
  readCachedPackage,
  runtimePackage,
  RuntimeFetchError,
} from "../runtime/cache.ts";
import {
  RUNTIME_ARCHES,
  RUNTIME_PACKAGES,
  RUNTIME_VERSION,
  type RuntimeArch,
} from "../runtime/pin.ts";

export async function runtimeCommand(args: string[]): Promise<number> {
  const [sub, archArg, ...rest] = args;
  if (sub !== "fetch" || rest.length > 0) {
    throw new ConfigError([
      {
        code: "usage",
        message: 'usage: safcm runtime fetch [x64|arm64] (see "safcm help runtime")',
      },
    ]);
  }
  const arch = archArg ?? process.arch;
  if (!(RUNTIME_ARCHES as readonly string[]).includes(arch)) {
    throw new ConfigError([
      {
        code: "usage",
        message: `the bundled runtime exists for x64 and arm64, not "${arch}"${archArg === undefined ? " (this workstation's architecture); name one" : ""}`,
      },
    ]);
  }
  const a = arch as RuntimeArch;
  const spec = `${RUNTIME_PACKAGES[a].name}@${RUNTIME_VERSION}`;
  if (readCachedPackage(a).state === "verified") {
    process.stdout.write(`${spec} is already in the cache, verified: ${cachedPackagePath(a)}\n`);
    return 0;
  }
  try {
    await runtimePackage(a, { write: (t) => process.stderr.write(t), isTTY: process.stderr.isTTY });
  } catch (err) {
    if (err instanceof RuntimeFetchError) {
      process.stderr.write(`safcm: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  process.stdout.write(`${spec} fetched and verified: ${cachedPackagePath(a)}\n`);
  return 0;
}
