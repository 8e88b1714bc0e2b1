// The build: three bundles, made by esbuild (type checking is `npm run lint`).
//
// dist/remote.js  the helper that travels to every managed host: src/remote
//                 and src/protocol only, node: builtins only, Node.js >= 18.
//                 It is one function expression `(function (require) {...})`:
//                 the bootstrap (src/transport/bootstrap.ts) evaluates it and
//                 passes its require.
// dist/safcm.cjs  the local side with all its dependencies in one CommonJS file,
//                 so that starting the CLI does not resolve hundreds of modules and
//                 its compiled code can come from V8's code cache (vm.Script, on
//                 every Node.js version). LiquidJS is inside too, in esbuild's lazy
//                 wrapper: evaluated on the first template only.
// dist/compile-cache.cjs  what bin/safcm (CommonJS too, bin/package.json) runs: compiles
//                 and runs dist/safcm.cjs with V8's code cache from a private directory
//                 (src/runtime/compile-cache.ts).
import { build } from "esbuild";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";

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

// The ES modules of earlier versions, so that a rebuilt tree does not ship them.
rmSync("dist/safcm.js", { force: true });
rmSync("dist/compile-cache.js", { force: true });
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
  plugins: [
    {
      // src/config/liquid.ts loads LiquidJS on first use through createRequire (as the
      // tests run it); in the bundle the same call becomes the bundle's own lazy require.
      name: "bundled-liquidjs",
      setup(build) {
        build.onLoad({ filter: /[\\/]src[\\/]config[\\/]liquid\.ts$/ }, ({ path }) => {
          const text = readFileSync(path, "utf8");
          const call = 'createRequire(import.meta.url)("liquidjs")';
          if (!text.includes(call)) throw new Error(`${path} no longer contains ${call}`);
          return { contents: text.replace(call, 'require("liquidjs")'), loader: "ts" };
        });
      },
    },
  ],
});
// vm.Script, which runs the bundle (src/runtime/compile-cache.ts), has no import() on
// Node.js 20: a dynamic import left in the bundle would fail only when reached.
if (/\bimport\s*\(/.test(readFileSync("dist/safcm.cjs", "utf8"))) {
  console.error("dist/safcm.cjs contains a dynamic import(), which vm.Script cannot run");
  process.exit(1);
}

await build({
  entryPoints: ["src/runtime/compile-cache.ts"],
  outfile: "dist/compile-cache.cjs",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  legalComments: "none",
});
