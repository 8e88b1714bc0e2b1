import js from "@eslint/js";
import tseslint from "typescript-eslint";
import prettier from "eslint-config-prettier";

// Import direction, one row per folder of src/ (STYLE.md (a), as the code draws it):
// cli -> config, session, report -> assemble -> config -> protocol, errors.ts; session ->
// transport. Each folder lists the folders of src/ it must NOT import; nothing imports
// cli/, and only the helper's own bundle holds remote/.
const FOLDERS = [
  "cli",
  "config",
  "assemble",
  "transport",
  "session",
  "report",
  "remote",
  "protocol",
];
const LOCAL = FOLDERS.filter((f) => f !== "protocol" && f !== "remote");
const forbidden = {
  // The helper (src/remote) and the protocol it shares with the local side are
  // bundled alone into dist/remote.js and run on managed hosts.
  protocol: [...FOLDERS.filter((f) => f !== "protocol"), "errors", "paths"],
  remote: [...LOCAL, "errors", "paths"],
  // Reads configuration files into plain data; may use protocol types and values
  // (LOG_LEVELS, Owner) and the npm parsers (yaml, liquidjs, picomatch).
  config: ["cli", "assemble", "transport", "session", "report", "remote"],
  // Per-host assembly of the configuration; returns data, never talks to a host.
  assemble: ["cli", "transport", "session", "report", "remote"],
  // Starts the helper and hands over its streams; gets plain host data.
  transport: ["cli", "config", "assemble", "session", "report", "remote"],
  // Runs one host's sync; returns results and emits log events, never prints.
  session: ["cli", "report", "remote"],
  // Presentation of results: no configuration, no connections.
  report: ["cli", "config", "assemble", "transport", "remote"],
  cli: ["remote"],
};
const HELPER =
  "the helper (src/remote, src/protocol) may import only src/protocol and node: builtins";

/** no-restricted-imports options for the files of src/<folder>/ (undefined: src/*.ts). */
function restrictions(folder) {
  const up = folder === undefined ? "./" : "../";
  const names = folder === undefined ? FOLDERS : forbidden[folder];
  const helper = folder === "remote" || folder === "protocol";
  const patterns = [
    {
      group: names.flatMap((f) => [`${up}${f}`, `${up}${f}/*`, `${up}${f}.*`]),
      message: helper
        ? HELPER
        : `src/${folder ?? "*.ts"} must not import this (import direction: eslint.config.js, STYLE.md (a))`,
    },
  ];
  if (helper)
    patterns.push({ regex: "^(?!node:|\\.)", message: "the helper may not use npm packages" });
  if (folder === "report") {
    // Results arrive as data: report/ may name session/ and protocol/ types only.
    patterns.push({
      group: ["../session/*", "../protocol/*"],
      allowTypeImports: true,
      message: "report/ may import only types from session/ and protocol/",
    });
  }
  return { patterns };
}
const boundaries = [
  ...FOLDERS.map((folder) => ({
    files: [`src/${folder}/**`],
    rules: { "no-restricted-imports": ["error", restrictions(folder)] },
  })),
  // errors.ts and paths.ts at the top of src/ are leaves: they import no folder.
  { files: ["src/*.ts"], rules: { "no-restricted-imports": ["error", restrictions(undefined)] } },
];

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "examples/", "tmp/"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      // scripts/lint.js hands over the program it type-checked (one program for tsc's
      // check and these rules); an editor's ESLint builds its own.
      parserOptions: globalThis.safcmLintProgram
        ? { programs: [globalThis.safcmLintProgram] }
        : { project: "./tsconfig.test.json", tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      // node:test's test() and describe() return promises the runner awaits itself.
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          allowForKnownSafeCalls: [
            { from: "package", name: ["test", "describe", "it", "suite"], package: "node:test" },
          ],
        },
      ],
    },
  },
  ...boundaries,
  {
    files: ["**/*.js", "**/*.mjs", "bin/safcm"],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      parserOptions: {
        ...tseslint.configs.disableTypeChecked.languageOptions.parserOptions,
        programs: null, // JavaScript files are not in the TypeScript program
      },
      globals: {
        process: "readonly",
        console: "readonly",
        Buffer: "readonly",
        setInterval: "readonly",
      },
    },
  },
  prettier,
);
