// Runs every test/**/*.test.ts with node:test.
// Usage: node scripts/run-tests.js [--lint] [substring...] [--exclude=substring...]
// (only files whose path contains one of the substrings, and none of the excluded ones;
// `npm run test:unit` leaves out the end-to-end and security suites). With --lint,
// the lint (scripts/lint.js, `npm run lint`) runs at the same time as the tests; its
// output follows the tests' and a lint failure fails the run.
//
// The test files are compiled first, by esbuild, into plain JavaScript (one file per
// test file, the code they share in chunks, source maps for the stack traces) in a
// directory of this run below node_modules/.cache/safcm, removed at the end. Node.js
// then runs JavaScript without a loader: starting each test file through tsx costs
// CPU in tsx's loader thread for every file (bench/README.md has what it was).
// `import.meta.url` keeps naming the TypeScript file it was written in, so that
// paths relative to a test (fixtures, src/, the repository) mean what they say.
// Type checking is the lint's job (tsc), as it was under tsx. Test code that starts
// Node.js on TypeScript of its own (node --import tsx -e ...) still uses tsx.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";

/**
 * The files that take longest in a full run on a 2-core machine (the runtime test is
 * one long chain of uploads, the runtime cache test waits for npm and the registry,
 * the load test keeps both cores busy), longest first: they
 * start first, so that the short files fill the other slots around them instead of
 * the long ones starting last and running alone at the end. Every other file follows
 * in alphabetical order. A file missing here only runs later.
 */
const SLOW_FIRST = [
  "test/e2e/runtime.test.ts",
  "test/security/load.test.ts",
  "test/e2e/install.test.ts",
  "test/e2e/runtime-cache.test.ts",
  "test/e2e/bootstrap-upload.test.ts",
  "test/security/crash.test.ts",
  "test/security/hostile-ground.test.ts",
  "test/security/hostile-ground-e2e.test.ts",
  "test/security/config-fuzz.test.ts",
  "test/e2e/packages.test.ts",
  "test/e2e/completion.test.ts",
  "test/security/hostile-helper.test.ts",
  "test/e2e/secrets.test.ts",
  "test/e2e/converge-commands.test.ts",
  "test/e2e/ssh-reuse.test.ts",
  "test/e2e/helper-main.test.ts",
  "test/e2e/round-trips.test.ts",
  // The longest of `npm run test:unit`.
  "test/cli/main.test.ts",
  "test/remote/files.test.ts",
  "test/config/load.test.ts",
];

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? find(join(dir, e.name))
      : e.name.endsWith(".test.ts")
        ? [join(dir, e.name)]
        : [],
  );
}

/** Runs a command to its end; resolves with its exit status and, when `capture`, its output. */
function run(program, args, capture, env = process.env) {
  return new Promise((resolve) => {
    const child = spawn(program, args, {
      env,
      stdio: capture ? ["ignore", "pipe", "pipe"] : "inherit",
    });
    let output = "";
    if (capture) {
      child.stdout.on("data", (d) => (output += d));
      child.stderr.on("data", (d) => (output += d));
    }
    child.on("error", (err) => resolve({ status: 1, output: `${output}${err.message}\n` }));
    child.on("close", (status) => resolve({ status: status ?? 1, output }));
  });
}

const EXCLUDE = "--exclude=";
const args = process.argv.slice(2);
const lint = args.includes("--lint");
const filters = args.filter((a) => !a.startsWith("--"));
const excluded = args.filter((a) => a.startsWith(EXCLUDE)).map((a) => a.slice(EXCLUDE.length));
const rank = (f) => {
  const i = SLOW_FIRST.indexOf(f.split("\\").join("/"));
  return i < 0 ? SLOW_FIRST.length : i;
};
const files = find("test")
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .filter((f) => !excluded.some((s) => f.includes(s)))
  .sort()
  .sort((a, b) => rank(a) - rank(b));

/** Compiles `files` into `outdir` (same relative paths, .mjs); returns the compiled paths. */
async function compile(files, outdir) {
  await build({
    entryPoints: files,
    outdir,
    outbase: ".",
    outExtension: { ".js": ".mjs" },
    chunkNames: "chunks/[name]-[hash]",
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    sourcemap: "linked",
    logLevel: "warning",
    plugins: [
      {
        name: "source-import-meta-url",
        setup(b) {
          b.onLoad({ filter: /\.ts$/ }, ({ path }) => ({
            contents: readFileSync(path, "utf8").replaceAll(
              "import.meta.url",
              JSON.stringify(pathToFileURL(path).href),
            ),
            loader: "ts",
          }));
        },
      },
    ],
  });
  return files.map((f) => join(outdir, f.replace(/\.ts$/, ".mjs")));
}

/**
 * The tests' environment. Node.js 20 reads and parses the file NODE_EXTRA_CA_CERTS names
 * at every start, TLS or not (Node.js 24 waits for the first TLS connection), as on this
 * project's machines (docs/performance.md). The tests start over a thousand Node.js
 * processes (the CLI, helpers, stand-ins) and only npm, fetching from the registry, uses
 * TLS: it is moved aside to SAFCM_TEST_NODE_EXTRA_CA_CERTS, and the tests that run npm
 * give it back to npm (test/helpers/runtime.ts registryEnv).
 */
function testEnv() {
  // The CLI's ssh control sockets go to $XDG_RUNTIME_DIR/safcm-ssh, else to
  // /tmp/safcm-ssh-<uid>: the tests' go to a directory of this run, removed at the end.
  const env = { ...process.env, XDG_RUNTIME_DIR: runtimeDir };
  if (env.NODE_EXTRA_CA_CERTS !== undefined) {
    env.SAFCM_TEST_NODE_EXTRA_CA_CERTS = env.NODE_EXTRA_CA_CERTS;
    delete env.NODE_EXTRA_CA_CERTS;
  }
  return env;
}

const runtimeDir = mkdtempSync(join(tmpdir(), "safcm-test-run-"));
// Tests that sync this machine as root make the helper keep pending triggers in its
// state directory (SPEC 5.7), which it creates when it first records one. A run that
// found no such directory removes it at the end, once no test file can be using it
// (only when empty: a journal left there is a pending trigger, which says so).
const STATE_DIR = "/var/lib/safcm";
const stateDirExisted = existsSync(STATE_DIR);
const linted = lint ? run(process.execPath, ["scripts/lint.js"], true, testEnv()) : null;
const CACHE = "node_modules/.cache/safcm";
mkdirSync(CACHE, { recursive: true });
// Compiled tests of runs that were killed (older than a day: a run at the same time keeps its own).
for (const name of readdirSync(CACHE)) {
  const path = join(CACHE, name);
  if (name.startsWith("tests-") && Date.now() - statSync(path).mtimeMs > 86_400_000)
    rmSync(path, { recursive: true, force: true });
}
const outdir = mkdtempSync(join(CACHE, "tests-"));
// Ctrl-C reaches the test runner too; this process removes its compiled tests and ends.
for (const [signal, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
]) {
  process.on(signal, () => {
    rmSync(outdir, { recursive: true, force: true });
    rmSync(runtimeDir, { recursive: true, force: true });
    process.exit(code);
  });
}
let tests;
try {
  const compiled = await compile(files, outdir);
  tests = await run(
    process.execPath,
    [
      "--enable-source-maps",
      "--test",
      "--test-concurrency=4",
      "--test-timeout=300000",
      ...compiled,
    ],
    false,
    testEnv(),
  );
} catch (err) {
  // esbuild has printed the file, line and column of a syntax error.
  process.stderr.write(`could not compile the tests: ${err.message}\n`);
  tests = { status: 1 };
} finally {
  rmSync(outdir, { recursive: true, force: true });
}
if (linted !== null) await linted;
rmSync(runtimeDir, { recursive: true, force: true });
if (!stateDirExisted && existsSync(STATE_DIR)) {
  try {
    rmdirSync(STATE_DIR);
  } catch (err) {
    process.stdout.write(`# ${STATE_DIR} left by the tests: ${err.message}\n`);
  }
}
let status = tests.status;
if (linted !== null) {
  const { status: lintStatus, output } = await linted;
  process.stdout.write(`# npm run lint: ${lintStatus === 0 ? "passed" : "FAILED"}\n${output}`);
  if (lintStatus !== 0) status = status === 0 ? 1 : status;
}
process.exit(status);
