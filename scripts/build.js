// The build: two bundles, made by esbuild (type checking is `npm run lint`).
//
// dist/remote.js  the helper that travels to every managed host: src/remote
//                 and src/protocol only, node: builtins only, Node.js >= 18.
//                 It is one function expression `(function (require) {...})`:
//                 the bootstrap (src/transport/bootstrap.ts) evaluates it and
//                 passes its require.
// dist/safcm.js   the local side with its dependencies in one file, so that
//                 starting the CLI does not resolve hundreds of modules; only
//                 LiquidJS (one CommonJS file) is left out and loaded on first use.
// dist/compile-cache.js  what bin/safcm runs before it loads dist/safcm.js: turns on
//                 Node.js's compile cache in a private directory (src/runtime/compile-cache.ts).
import { build } from "esbuild";
import { mkdirSync, writeFileSync } from "node:fs";

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

await build({
  entryPoints: ["src/cli/main.ts"],
  outfile: "dist/safcm.js",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  legalComments: "none",
  // LiquidJS is loaded on first use (src/config/liquid.ts), from the package's dependencies.
  external: ["liquidjs"],
  // Bundled CommonJS dependencies may call require(); give the ESM bundle one.
  banner: {
    js: 'import { createRequire as __safcmRequire } from "node:module"; const require = __safcmRequire(import.meta.url);',
  },
});

await build({
  entryPoints: ["src/runtime/compile-cache.ts"],
  outfile: "dist/compile-cache.js",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  legalComments: "none",
});
