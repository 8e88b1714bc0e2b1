// The lint (npm run lint): TypeScript's type check, ESLint and Prettier --check over
// the whole tree. The type check and ESLint's type-aware rules share ONE TypeScript
// program: run one after the other as `tsc && eslint`, each would parse, bind and
// type-check the same files (bench/README.md has what that cost).
// ESLint gets the program through parserOptions.programs (eslint.config.js takes it
// from globalThis.safcmLintProgram; without it, as in an editor, ESLint builds its own
// from tsconfig.test.json). Prettier runs alongside in its own process.
import { spawn } from "node:child_process";
import { ESLint } from "eslint";
import ts from "typescript";

/** Prettier --check (with its cache) in a process of its own; resolves with its verdict and output. */
function prettier() {
  return new Promise((resolve) => {
    const args = ["--check", "--cache", "--cache-strategy", "content", "."];
    const child = spawn(process.execPath, ["node_modules/prettier/bin/prettier.cjs", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", (err) => resolve({ ok: false, output: `${output}${err.message}\n` }));
    child.on("close", (status) => resolve({ ok: status === 0, output }));
  });
}

/** Type-checks tsconfig.test.json's files as `tsc -p` does; returns the program and its diagnostics. */
function typeCheck() {
  const config = ts.getParsedCommandLineOfConfigFile("tsconfig.test.json", undefined, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    },
  });
  const program = ts.createProgram({
    rootNames: config.fileNames,
    options: config.options,
    configFileParsingDiagnostics: config.errors,
    projectReferences: config.projectReferences,
  });
  return { program, diagnostics: ts.getPreEmitDiagnostics(program) };
}

const formatted = prettier();
const { program, diagnostics } = typeCheck();
if (diagnostics.length > 0) {
  const host = {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: ts.sys.getCurrentDirectory,
    getNewLine: () => ts.sys.newLine,
  };
  const format = process.stdout.isTTY
    ? ts.formatDiagnosticsWithColorAndContext
    : ts.formatDiagnostics;
  process.stdout.write(`${format(diagnostics, host)}\n`);
}
globalThis.safcmLintProgram = program;
const eslint = new ESLint();
const results = await eslint.lintFiles(["."]);
const report = (await eslint.loadFormatter("stylish")).format(results);
if (report !== "") process.stdout.write(report);
const linted = results.every((r) => r.errorCount === 0); // as `eslint .`: warnings are shown, errors fail
const pretty = await formatted;
process.stdout.write(pretty.output);
process.exitCode = diagnostics.length === 0 && linted && pretty.ok ? 0 : 1;
