// The one toolkit for checking the shape of protocol messages, used by the
// local side on every message from a helper (validate.ts: untrusted, exact) and
// by the helper on every request (src/remote/request.ts: trusted, but a
// malformed request must end in an error message, not a crash halfway through
// a change). Hand-written: the helper bundle has no dependencies.
//
// `object` takes the keys of the type it checks (`keyof T`), so a field renamed
// in messages.ts is a compile error here, not a silent gap in validation.

type Obj = Record<string, unknown>;

/** Throws the caller's own error: `where` is the field's path, `what` what is wrong with it. */
export type Fail = (where: string, what: string) => never;

/** Keys of T as strings, for `object`. */
export type Keys<T> = readonly (keyof T & string)[];

/** The fields of a checked object: only T's keys can be read, each still to be checked. */
export type Fields<T> = { readonly [K in keyof T]?: unknown };

export interface Checks {
  /**
   * An object with every key of `keys`; where the checks are exact, no key outside
   * `keys` and `optional` either (a message from an untrusted helper must not carry more).
   */
  object: <T>(v: unknown, where: string, keys: Keys<T>, optional?: Keys<T>) => Fields<T>;
  string: (v: unknown, where: string, max?: number) => string;
  nullableString: (v: unknown, where: string, max?: number) => string | null;
  integer: (v: unknown, where: string, min: number, max: number) => number;
  boolean: (v: unknown, where: string) => boolean;
  array: <T>(v: unknown, where: string, max: number, item: (x: unknown, w: string) => T) => T[];
  /** One of `values`; `what` says which in the error (default "unexpected value"). */
  oneOf: <T extends string>(v: unknown, where: string, values: readonly T[], what?: string) => T;
}

export function checks(fail: Fail, exact: boolean): Checks {
  const string = (v: unknown, where: string, max = Infinity): string => {
    if (typeof v !== "string") fail(where, "not a string");
    if (v.length > max) fail(where, `string longer than ${max}`);
    return v;
  };
  return {
    object: <T>(v: unknown, where: string, keys: Keys<T>, optional: Keys<T> = []): Fields<T> => {
      if (typeof v !== "object" || v === null || Array.isArray(v)) fail(where, "not an object");
      const o = v as Obj;
      if (exact) {
        for (const k of Object.keys(o)) {
          if (
            !(keys as readonly string[]).includes(k) &&
            !(optional as readonly string[]).includes(k)
          )
            fail(where, `unexpected field ${JSON.stringify(k.slice(0, 64))}`);
        }
      }
      for (const k of keys) if (!(k in o)) fail(where, `missing field "${k}"`);
      return o;
    },
    string,
    nullableString: (v, where, max) => (v === null ? null : string(v, where, max)),
    integer: (v, where, min, max) => {
      if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
        fail(where, `not an integer in ${min}..${max}`);
      }
      return v;
    },
    boolean: (v, where) => {
      if (typeof v !== "boolean") fail(where, "not a boolean");
      return v;
    },
    array: (v, where, max, item) => {
      if (!Array.isArray(v)) fail(where, "not an array");
      if (v.length > max) fail(where, `more than ${max} items`);
      return v.map((x, i) => item(x, `${where}[${i}]`));
    },
    oneOf: <T extends string>(
      v: unknown,
      where: string,
      values: readonly T[],
      what?: string,
    ): T => {
      if (typeof v !== "string" || !(values as readonly string[]).includes(v))
        fail(where, what ?? "unexpected value");
      return v as T;
    },
  };
}
