// Jinja habits answered in Liquid's words (SPEC 3.4): templates ported from Ansible write
// `{{ port }}` for a variable, `| int`, `| default(3)`, `~` and lean on `| default` for a
// variable that may not exist. LiquidJS's error says what is wrong; the hint here says what
// to write instead. Only names and filter names appear in a hint, never a value.

/** What the template saw, for hints about a name that exists elsewhere. */
export interface HintNames {
  vars?: object;
  facts?: object;
}

/** Jinja and Ansible filters, and what Liquid offers instead. */
const FILTERS: Readonly<Record<string, string>> = {
  int: 'Liquid has no int filter: "| plus: 0" turns a number in a string into a number',
  float: 'Liquid has no float filter: "| plus: 0" turns a number in a string into a number',
  string: "Liquid has no string filter: \"| append: ''\" turns a number into text",
  length: 'Liquid\'s is "| size"',
  count: 'Liquid\'s is "| size"',
  lower: 'Liquid\'s is "| downcase"',
  upper: 'Liquid\'s is "| upcase"',
  title: 'Liquid\'s nearest is "| capitalize" (the first letter only)',
  trim: 'Liquid\'s is "| strip"',
  d: 'Liquid\'s is "| default: value" (which, in strict mode, needs the variable to exist)',
  unique: 'Liquid\'s is "| uniq"',
  to_json: 'Liquid\'s is "| json"',
  tojson: 'Liquid\'s is "| json"',
  to_nice_json: 'Liquid\'s is "| json: 2"',
  regex_replace: 'Liquid\'s "| replace: old, new" replaces text, not a regular expression',
  selectattr: 'Liquid\'s is "| where: key, value"',
  rejectattr: 'Liquid\'s is "| reject: key, value"',
  b64encode: 'Liquid\'s is "| base64_encode"',
  b64decode: 'Liquid\'s is "| base64_decode"',
  hash: 'Liquid\'s is "| sha256"',
  mandatory: "strict mode already makes every variable mandatory: drop the filter",
  ternary: 'Liquid writes "{% if x %}a{% else %}b{% endif %}"',
  ipaddr: "the host's addresses are facts.ipv4 and facts.ipv6",
};

/** Jinja tags, and Liquid's. */
const TAGS: Readonly<Record<string, string>> = {
  elif: 'Liquid\'s is "{% elsif %}"',
  set: 'Liquid\'s is "{% assign name = value %}"',
  macro: "Liquid has no macros: repeat the text, or loop over a list in vars.yaml",
  extends: "templates cannot include or extend other files",
  import: "templates cannot include or extend other files",
  block: "templates cannot include or extend other files",
};

/** Ansible's (and Jinja's) names for what safcm offers under another name. */
const ANSIBLE: Readonly<Record<string, string>> = {
  loop: "forloop (forloop.index, forloop.first, forloop.last), as Liquid names it",
  inventory_hostname: "host",
  inventory_hostname_short: "host",
  group_names: "groups (an object: groups.<name> is true or false)",
  hostvars: "nothing: a host's templates see only its own vars and facts",
  ansible_hostname: "facts.hostname",
  ansible_nodename: "facts.hostname",
  ansible_fqdn: "facts.hostname",
  ansible_distribution: "facts.os_id (lower-case, as in os-release)",
  ansible_os_family: "facts.os_like and facts.os_id",
  ansible_distribution_release: "facts.os_codename",
  ansible_distribution_version: "facts.os_version_id",
  ansible_distribution_major_version: "facts.os_version_id",
  ansible_architecture: "facts.arch (Node.js names: x64, arm64)",
  ansible_kernel: "facts.kernel",
  ansible_processor_vcpus: "facts.cpus",
  ansible_processor_nproc: "facts.cpus",
  ansible_memtotal_mb: "facts.memory_mib",
  ansible_default_ipv4: "facts.ipv4 (a list: facts.ipv4 | first)",
  ansible_all_ipv4_addresses: "facts.ipv4",
  ansible_all_ipv6_addresses: "facts.ipv6",
};

const DEFAULT_HINT =
  'in strict mode "| default:" cannot stand in for a variable that does not exist (it replaces only nil, false and empty values): set the default in all/vars.yaml, which every other group overrides';

/** Whether `obj` has its own property `name` (of the object itself, never a proxy's extras). */
function has(obj: object | undefined, name: string | undefined): name is string {
  return obj !== undefined && name !== undefined && Object.keys(obj).includes(name);
}

/** The `{{ ... }}` or `{% ... %}` around the error's token, from the template's source. */
function markupAround(err: Error): string {
  const token: unknown = "token" in err ? err.token : undefined;
  if (typeof token !== "object" || token === null) return "";
  const { input, begin, end } = token as { input?: unknown; begin?: unknown; end?: unknown };
  if (typeof input !== "string" || typeof begin !== "number" || typeof end !== "number") return "";
  const start = Math.max(input.lastIndexOf("{{", begin), input.lastIndexOf("{%", begin));
  const close = [input.indexOf("}}", end), input.indexOf("%}", end)].filter((i) => i >= 0);
  return input.slice(Math.max(0, start), close.length === 0 ? input.length : Math.min(...close));
}

/** The hint for an undefined variable `path` ("vars.port", "security_ssh_port"). */
function variableHint(err: Error, path: string, names: HintNames | undefined): string | null {
  const [first, second] = path.split(".");
  if (first === "vars" && has(names?.facts, second)) {
    return `${second} is a fact, not a variable: write facts.${second}`;
  }
  if (first === "facts" && has(names?.vars, second)) {
    return `${second} is a variable, not a fact: write vars.${second}`;
  }
  if (second === undefined) {
    const where = [
      has(names?.vars, first) ? `vars.${first}` : null,
      has(names?.facts, first) ? `facts.${first}` : null,
    ].filter((w) => w !== null);
    if (where.length > 0) {
      return `templates see variables under vars. and facts under facts., not as bare names as in Jinja: write ${where.join(" or ")}`;
    }
    const ansible = Object.hasOwn(ANSIBLE, first) ? ANSIBLE[first] : undefined;
    if (ansible !== undefined) return `a Jinja or Ansible name: safcm's is ${ansible}`;
  }
  if (/\|\s*default\s*:/.test(markupAround(err))) return DEFAULT_HINT;
  return null;
}

/**
 * A sentence that answers a Jinja habit behind LiquidJS's error `err` (whose `message` is
 * already without its position), or null where none applies. `names`: the template's vars
 * and facts, known when rendering (not when parsing).
 */
export function jinjaHint(err: Error, message: string, names?: HintNames): string | null {
  const variable = /^undefined variable: (\S+)$/.exec(message);
  if (variable !== null) return variableHint(err, variable[1], names);
  const filter = /^undefined filter: (\S+)$/.exec(message);
  if (filter !== null) {
    return Object.hasOwn(FILTERS, filter[1]) ? FILTERS[filter[1]] : null;
  }
  const tag = /^tag "(\S+)" not found$/.exec(message);
  if (tag !== null) return Object.hasOwn(TAGS, tag[1]) ? TAGS[tag[1]] : null;
  if (message.startsWith('expected ":" after filter name')) {
    return "Liquid writes a filter's arguments after a colon, \"| default: 3\" or \"| replace: 'a', 'b'\", not in parentheses as Jinja does";
  }
  if (message.startsWith('expected "|" before filter') && markupAround(err).includes("~")) {
    return 'Liquid joins text with "| append: x", not "~"';
  }
  return null;
}
