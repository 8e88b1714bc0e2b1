// The build: two bundles, made by esbuild (type checking is `npm run lint`).
//
// dist/remote.js  the helper that travels to every managed host: src/remote
//                 and src/protocol only, node: builtins only, Node.js >= 18.
//                 It is one function expression `(function (require) {...})`:
//                 the bootstrap (src/transport/bootstrap.ts) evaluates it and
//                 passes its require.
// dist/safcm.cjs  the local side with its dependencies in one CommonJS file, so
//                 that starting the CLI does not resolve hundreds of modules; bin/safcm
//                 (CommonJS too, bin/package.json) requires it. LiquidJS is loaded from
//                 node_modules on the first template only (src/config/liquid.ts).
import { mkdirSync, rmSync, writeFileSync } from "node:fs";

let build;
try {
  ({ build } = await import("esbuild"));
} catch (err) {
  if (err?.code !== "ERR_MODULE_NOT_FOUND") throw err;
  console.error(
    "safcm: the build needs the development dependencies: run npm ci first " +
      "(./scripts/install.sh installs the safcm command from a clone)",
  );
  process.exit(1);
}

mkdirSync("dist", { recursive: true });

const helper = await build({
  entryPoints: ["src/remote/main.ts"],
  bundle: true,
  platform: "node",
  target: "node18",
  format: "iife",
  minify: true,
  legalComments: "none",
  write: false,
  metafile: true,
  banner: { js: "(function(require){" },
  footer: { js: "})" },
});
const outside = Object.keys(helper.metafile.inputs).filter(
  (input) => !input.startsWith("src/remote/") && !input.startsWith("src/protocol/"),
);
if (outside.length > 0) {
  console.error(
    `helper bundle may only contain src/remote and src/protocol, found: ${outside.join(", ")}`,
  );
  process.exit(1);
}
// test/remote/bundle.test.ts checks the same on a bundle of its own.
writeFileSync("dist/remote.js", helper.outputFiles[0].contents);

// Files of earlier versions, so that a rebuilt tree does not ship them.
for (const old of ["dist/safcm.js", "dist/compile-cache.js", "dist/compile-cache.cjs"]) {
  rmSync(old, { force: true });
}
await build({
  entryPoints: ["src/cli/main.ts"],
  outfile: "dist/safcm.cjs",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  legalComments: "none",
  // src/paths.ts and src/config/liquid.ts find files relative to their module.
  define: { "import.meta.url": "__safcmModuleUrl" },
  banner: { js: 'var __safcmModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
});
