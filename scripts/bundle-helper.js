// Bundles the helper (src/remote/main.ts) into one file, dist/remote.js, that
// runs on managed hosts with Node.js >= 18 and needs nothing but node: builtins.
// The bundle is a single function expression `(function (require) {...})`: the
// bootstrap (src/transport/bootstrap.ts) evaluates it and passes its require.
import { build } from "esbuild";
import { writeFileSync } from "node:fs";

const result = await build({
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
const outside = Object.keys(result.metafile.inputs).filter(
  (input) => !input.startsWith("src/remote/") && !input.startsWith("src/protocol/"),
);
if (outside.length > 0) {
  console.error(
    `helper bundle may only contain src/remote and src/protocol, found: ${outside.join(", ")}`,
  );
  process.exit(1);
}
writeFileSync("dist/remote.js", result.outputFiles[0].contents);
writeFileSync(
  "dist/remote-inputs.json",
  JSON.stringify(Object.keys(result.metafile.inputs)) + "\n",
);
