import js from "@eslint/js";
import tseslint from "typescript-eslint";
import prettier from "eslint-config-prettier";

// The helper (src/remote) and the protocol it shares with the local side are
// bundled alone and run on managed hosts: they may use node: builtins only.
const helperRestrictions = {
  patterns: [
    {
      group: [
        "../config/*",
        "../build/*",
        "../transport/*",
        "../session/*",
        "../report/*",
        "../cli/*",
        "../errors*",
      ],
      message: "the helper may import only src/protocol and node: builtins",
    },
    { regex: "^(?!node:|\\.)", message: "the helper may not use npm packages" },
  ],
};

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "examples/", "tmp/"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: "./tsconfig.test.json", tsconfigRootDir: import.meta.dirname },
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
  {
    files: ["src/remote/**", "src/protocol/**"],
    rules: { "no-restricted-imports": ["error", helperRestrictions] },
  },
  {
    files: ["**/*.js", "**/*.mjs", "bin/safcm"],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
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
