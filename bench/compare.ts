// Benchmark (not a test): safcm next to Ansible and to the physical floor.
//
// Starts a private sshd on loopback with 8 host aliases, generates the same
// job for safcm and for Ansible (ansible.builtin.copy of the source tree, the
// way a typical user writes it, fact gathering on and off) and measures, as
// the median of RUNS runs: first sync, no-op sync and one-file-changed sync
// of N files (20 and 200) to 1 and to 8 hosts, next to the floors
// `ssh <alias> true` and `ssh <alias> node -e 0`, single and 8 in parallel.
// Ansible cells that do not fit in the time budget are skipped and listed.
//
// Root's ~/.bashrc on these machines runs a slow shell start-up for every
// ssh command. The benchmark's client key carries environment="SHLVL=1"
// (PermitUserEnvironment SHLVL in the private sshd), which takes it out of
// every measurement the same way: safcm's, Ansible's and the floors'.
//
//   npm run build && node --import tsx bench/compare.ts
//   env: RUNS (default 3), ANSIBLE_BUDGET seconds for all Ansible cells (default 1800),
//        SIZES (default "20,200"), HOSTS (default "1,8"), BIG (files of the
//        extra safcm-only cell, default 1000; 0 to skip), ANSIBLE_FACTS (default
//        "off,on"), ANSIBLE_CASES (default "first,no-op,1 changed": the cases
//        Ansible runs; each costs RUNS runs)

import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startSshd } from "../test/helpers/sshd.ts";
import { measure, medianMeasure as median, row, type Measure } from "./util.ts";

const SAFCM = new URL("../bin/safcm", import.meta.url).pathname;
const RUNS = Number(process.env.RUNS ?? 3);
const SIZES = (process.env.SIZES ?? "20,200").split(",").map(Number);
const HOST_COUNTS = (process.env.HOSTS ?? "1,8").split(",").map(Number);
const BIG = Number(process.env.BIG ?? 1000);
let ansibleBudget = Number(process.env.ANSIBLE_BUDGET ?? 1800);
/** Seconds per file and host batch of the last measured Ansible cell, by tool name (for estimates). */
const ansibleRate = new Map<string, number>();
const ANSIBLE_FACTS = (process.env.ANSIBLE_FACTS ?? "off,on").split(",").map((f) => f === "on");
const ANSIBLE_CASES = (process.env.ANSIBLE_CASES ?? "first,no-op,1 changed").split(",");
const haveAnsible = spawnSync("ansible-playbook", ["--version"], { stdio: "ignore" }).status === 0;

const aliases = Array.from({ length: 8 }, (_, i) => `bench${i}`);
const sshd = await startSshd(aliases, "", { opensshDefaults: true });
const work = join(sshd.dir, "work");
const skipped: string[] = [];
const lines: string[] = [];
const W = [34, 9, 9, 12, 12, 12];

/** The source tree: n files of ~1 KiB in 10 directories. */
function sourceTree(dir: string, n: number): void {
  for (let i = 0; i < n; i++) {
    const sub = join(dir, `dir${i % 10}`);
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, `file${i}.txt`), `file ${i}\n`.repeat(100), { mode: 0o644 });
  }
}

interface Tool {
  name: string;
  /** Prepares a job of n files for the hosts, each host into a fresh root; returns the sync command. */
  prepare(n: number, hosts: string[], generation: number): string[];
  /** The file whose change is the one-file-changed case. */
  changeFile(n: number): string;
}

const safcm: Tool = {
  name: "safcm",
  prepare(n, hosts, generation) {
    const conf = join(work, `safcm-${n}`);
    const files = join(conf, "all/files/srv/data");
    if (generation === 0) sourceTree(files, n);
    // Cold connections (ssh_persist: 0), as the floors they are compared with; bench/ssh-sync.ts has the warm row.
    writeFileSync(join(conf, "config.yaml"), `ssh_config: ${sshd.config}\nssh_persist: 0\n`);
    writeFileSync(
      join(conf, "hosts.yaml"),
      hosts.map((h) => `- name: ${h}\n  root: ${freshRoot("safcm", n, h, generation)}\n`).join(""),
    );
    return [process.execPath, SAFCM, "sync", "-C", conf, ...hosts];
  },
  changeFile: (n) => join(work, `safcm-${n}`, "all/files/srv/data/dir0/file0.txt"),
};

function ansible(facts: boolean): Tool {
  return {
    name: `ansible (facts ${facts ? "on" : "off"})`,
    prepare(n, hosts, generation) {
      const dir = join(work, `ansible-${n}`);
      const src = join(dir, "src");
      if (generation === 0) sourceTree(join(src, "srv/data"), n);
      const inventory = hosts
        .map((h) => `${h} root=${freshRoot(`ansible-${facts}`, n, h, generation)}`)
        .join("\n");
      writeFileSync(
        join(dir, "inventory"),
        `[all]\n${inventory}\n[all:vars]\nansible_python_interpreter=/usr/bin/python3\nansible_ssh_common_args=-F ${sshd.config}\n`,
      );
      writeFileSync(
        join(dir, `site-${facts}.yml`),
        [
          "- hosts: all",
          `  gather_facts: ${facts}`,
          "  tasks:",
          "    - name: sync the tree",
          "      ansible.builtin.copy:",
          `        src: ${src}/`,
          '        dest: "{{ root }}/"',
          "",
        ].join("\n"),
      );
      return [
        "ansible-playbook",
        "-f",
        "8",
        "-i",
        join(dir, "inventory"),
        join(dir, `site-${facts}.yml`),
      ];
    },
    changeFile: (n) => join(work, `ansible-${n}`, "src/srv/data/dir0/file0.txt"),
  };
}

function freshRoot(tool: string, n: number, host: string, generation: number): string {
  const root = join(work, "roots", `${tool}-${n}-${host}-${generation}`);
  mkdirSync(root, { recursive: true });
  return root;
}

const ENV = { ...process.env, ANSIBLE_HOST_KEY_CHECKING: "False", ANSIBLE_NOCOLOR: "1" };

/** first, no-op and one-file-changed sync; each a median of RUNS. */
type Kind = "first" | "no-op" | "1 changed";

/** first, no-op and one-file-changed sync (those in `cases`); each a median of RUNS. */
function runTool(tool: Tool, n: number, hosts: string[], cases: string[]): Map<Kind, Measure> {
  const out = new Map<Kind, Measure>();
  // The first sync of generation 0 also sets up the hosts for the other cases.
  let command = tool.prepare(n, hosts, 0);
  const first = [measure(command, ENV)];
  if (cases.includes("first")) {
    for (let g = 1; g < RUNS; g++) {
      command = tool.prepare(n, hosts, g);
      first.push(measure(command, ENV));
    }
    out.set("first", median(first));
  }
  if (cases.includes("no-op")) {
    out.set("no-op", median(Array.from({ length: RUNS }, () => measure(command, ENV))));
  }
  if (cases.includes("1 changed")) {
    const change = Array.from({ length: RUNS }, (_, i) => {
      writeFileSync(tool.changeFile(n), `changed ${i} ${Date.now()}\n`.repeat(100));
      return measure(command, ENV);
    });
    out.set("1 changed", median(change));
  }
  return out;
}

function floor(n: number, remote: string): Measure {
  const cmd = `for a in ${aliases.slice(0, n).join(" ")}; do ssh -F ${sshd.config} $a ${JSON.stringify(remote)} & done; wait`;
  return median(Array.from({ length: Math.max(RUNS, 5) }, () => measure(["bash", "-c", cmd])));
}

function print(cells: (string | number)[]): void {
  const line = row(cells, W);
  lines.push(line);
  console.log(line);
}

try {
  console.log(
    `safcm vs Ansible vs floor; median of ${RUNS} runs; loopback sshd; ${new Date().toISOString()}`,
  );
  print(["case", "wall s", "peak MiB", "ansible/safcm", "x ssh true", "x node -e 0"]);
  const floors = new Map<number, { sshTrue: Measure; sshNode: Measure }>();
  for (const h of HOST_COUNTS) {
    const f = { sshTrue: floor(h, "true"), sshNode: floor(h, "node -e 0") };
    floors.set(h, f);
    print([`floor ${h} host(s): ssh true`, f.sshTrue.seconds.toFixed(3), "", "", "", ""]);
    print([`floor ${h} host(s): ssh node -e 0`, f.sshNode.seconds.toFixed(3), "", "", "", ""]);
  }
  const cells: [number, number][] = SIZES.flatMap((n) =>
    HOST_COUNTS.map((h) => [n, h] as [number, number]),
  );
  if (BIG > 0) cells.push([BIG, 1]);
  for (const [n, h] of cells) {
    const hosts = aliases.slice(0, h);
    const f = floors.get(h) ?? { sshTrue: floor(h, "true"), sshNode: floor(h, "node -e 0") };
    const ours = runTool(safcm, n, hosts, ["first", "no-op", "1 changed"]);
    for (const [kind, m] of ours) {
      print([
        `safcm ${n} files x ${h}: ${kind}`,
        m.seconds.toFixed(3),
        m.peakMiB.toFixed(1),
        "",
        (m.seconds / f.sshTrue.seconds).toFixed(2),
        (m.seconds / f.sshNode.seconds).toFixed(2),
      ]);
    }
    if (n === BIG && !SIZES.includes(n)) continue;
    for (const facts of ANSIBLE_FACTS) {
      const tool = ansible(facts);
      // Estimated from the last measured cell (about 1 s per file and host batch here).
      const runs = ANSIBLE_CASES.length * RUNS + (ANSIBLE_CASES.includes("first") ? 0 : 1);
      const estimate = runs * (ansibleRate.get(tool.name) ?? 1) * n * Math.ceil(h / 8);
      if (!haveAnsible || estimate > ansibleBudget) {
        skipped.push(
          `${tool.name} ${n} files x ${h} (${haveAnsible ? `~${Math.round(estimate)} s estimated` : "ansible-playbook not installed"})`,
        );
        continue;
      }
      const started = Date.now();
      const theirs = runTool(tool, n, hosts, ANSIBLE_CASES);
      const seconds = (Date.now() - started) / 1000;
      ansibleBudget -= seconds;
      ansibleRate.set(tool.name, seconds / runs / n / Math.ceil(h / 8));
      for (const [kind, m] of theirs) {
        const mine = ours.get(kind)!;
        print([
          `${tool.name} ${n} x ${h}: ${kind}`,
          m.seconds.toFixed(3),
          m.peakMiB.toFixed(1),
          (m.seconds / mine.seconds).toFixed(1),
          (m.seconds / f.sshTrue.seconds).toFixed(2),
          (m.seconds / f.sshNode.seconds).toFixed(2),
        ]);
      }
    }
  }
  if (skipped.length > 0)
    console.log(`skipped (time budget ANSIBLE_BUDGET): ${skipped.join("; ")}`);
} finally {
  await sshd.stop();
  rmSync(work, { recursive: true, force: true });
}
