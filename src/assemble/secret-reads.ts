// Which templates read a secret variable (SPEC 5.1). A filter turns a secret
// into text that no substring search finds (`base64_encode`, `json` with a
// quote in the value, `url_encode` ...), so whether a file's diff is withheld
// cannot be decided from its content alone. Instead the template sees its
// variables through a view that notes every read of a value that came from
// `!env` or `!command`, by whatever path (a filter, a loop, `assign`, a
// mapping or list that holds one), while it renders; no second rendering.

import { Secret } from "../config/secrets.ts";
import { resolvedValue } from "../config/vars.ts";
import type { RawValue, VarValue } from "../config/vars.ts";

/** Set when a template read a secret value; renderTemplate resets it before each rendering. */
export interface SecretReads {
  read: boolean;
}

/**
 * The variables as a template sees them: every secret resolved, and every
 * mapping or list that holds a secret a view that sets `reads.read` when the
 * secret (or a mapping or list holding one) is read from it. Values without a
 * secret are plain objects, so a configuration without secrets pays nothing.
 */
export function watchedVars(
  vars: Record<string, RawValue>,
  reads: SecretReads,
): Record<string, VarValue> {
  const views = new WeakMap<object, object>();

  /** The value a template reads: `resolved` (from the view's target), noted or wrapped. */
  const read = (raw: RawValue, resolved: unknown): unknown => {
    if (raw instanceof Secret) {
      reads.read = true;
      return resolved;
    }
    return typeof raw === "object" && holdsSecret(raw) ? view(raw) : resolved;
  };

  const view = (raw: RawValue[] | { [key: string]: RawValue }): VarValue => {
    const known = views.get(raw);
    if (known !== undefined) return known as VarValue;
    // The target is the resolved value, so that Array.isArray, the keys, `length`
    // and the array methods (which read elements through the view) work as usual.
    const target = resolvedValue(raw) as object;
    const own = (key: string | symbol): key is string =>
      typeof key === "string" && Object.hasOwn(raw, key);
    const child = (key: string): RawValue => (raw as Record<string, RawValue>)[key];
    const proxy = new Proxy(target, {
      get: (t, key, receiver): unknown => {
        const value: unknown = Reflect.get(t, key, receiver);
        return own(key) ? read(child(key), value) : value;
      },
      getOwnPropertyDescriptor: (t, key) => {
        const desc = Reflect.getOwnPropertyDescriptor(t, key);
        // Object.entries, JSON.stringify and LiquidJS's own-property check come here.
        if (desc !== undefined && "value" in desc && own(key)) {
          desc.value = read(child(key), desc.value);
        }
        return desc;
      },
    });
    views.set(raw, proxy);
    return proxy as VarValue;
  };

  const watched = holdsSecret(vars) ? view(vars) : resolvedValue(vars);
  return watched as Record<string, VarValue>;
}

const holding = new WeakMap<object, boolean>();

/** Whether a secret lies anywhere in `raw` (remembered per mapping and list: vars are read-only). */
function holdsSecret(raw: RawValue): boolean {
  if (raw instanceof Secret) return true;
  if (typeof raw !== "object") return false;
  let known = holding.get(raw);
  if (known === undefined) {
    known = Object.values(raw).some(holdsSecret);
    holding.set(raw, known);
  }
  return known;
}
