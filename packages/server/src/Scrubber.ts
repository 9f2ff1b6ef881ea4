/**
 * Removes secrets from what a tool call sends back. Every secret in scope is searched in its plain
 * form and the forms a tool most often re-encodes it in — base64 and base64url (at any byte
 * alignment, so it is found inside a larger encoded blob such as a Basic auth header; also of the
 * URL-encoded secret), URL and form encoding (upper- or lowercase hex; also twice; also as a whole
 * URL escapes it: `encodeURI`, `new URL(...).href`), JSON string
 * escaping (once or twice, for JSON inside a JSON string; with `\/`), `\uXXXX` escapes and HTML
 * character references (whichever characters are escaped) and hex — also when line breaks split it (base64
 * wrapped as PEM and MIME wrap it) — and each occurrence is replaced by `[redacted]`. A number whose digits hold a secret
 * (a numeric PIN sent back as a number) is replaced whole.
 * `Bearer <token>` is covered by the plain form.
 *
 * @since 0.1.0
 */

/**
 * What replaces a secret.
 *
 * @since 0.1.0
 * @category constants
 */
export const replacement = "[redacted]"

/**
 * Secrets shorter than this are not searched: a two-letter "secret" would blank out ordinary text.
 *
 * @since 0.1.0
 * @category constants
 */
export const minSecretLength = 4

/**
 * A compiled set of secrets.
 *
 * @since 0.1.0
 * @category models
 */
export interface Scrubber {
  /** Whether there is anything to scrub. */
  readonly isEmpty: boolean
  /** Returns a copy of `value` with every secret occurrence replaced, and how many were replaced. */
  readonly scrub: <A>(value: A) => { readonly value: A; readonly count: number }
  /** Replaces secrets in one string. */
  readonly scrubString: (text: string) => { readonly value: string; readonly count: number }
}

const uriEncoded = (secret: string): string | undefined => {
  try {
    return encodeURIComponent(secret)
  } catch {
    return undefined
  }
}

/**
 * Every form in which `secret` is searched.
 *
 * @since 0.1.0
 * @category constructors
 */
export const forms = (secret: string): ReadonlyArray<string> => {
  const out = new Set<string>([secret])
  const json = JSON.stringify(secret).slice(1, -1)
  out.add(json)
  out.add(JSON.stringify(json).slice(1, -1)) // JSON inside a JSON string
  // a lone surrogate (not valid UTF-16) makes encodeURIComponent throw: no URL form of that kind
  // can exist then, and the form encoding below (which replaces it with U+FFFD) still applies
  const uri = uriEncoded(secret)
  if (uri !== undefined) {
    out.add(uri)
    out.add(uri.replace(/%20/g, "+"))
  }
  const bytes = Buffer.from(secret, "utf8")
  const form = new URLSearchParams({ s: secret }).toString().slice(2) // form encoding (also escapes !'()~)
  out.add(form)
  // the same with lowercase hex digits (`%2f`: .NET's UrlEncode, some HTTP clients)
  for (const f of [uri, form]) if (f !== undefined) out.add(f.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()))
  // JSON with `/` escaped (PHP's json_encode)
  // (`\uXXXX` escapes, whichever characters are escaped, are decoded by the search itself)
  out.add(json.replace(/\//g, "\\/"))
  // (HTML character references, whichever characters are escaped and however, are decoded by
  // the search itself: `scrubReferences`)
  // URL or form encoding applied twice (a value put in a URL that is itself a query parameter)
  if (uri !== undefined) out.add(encodeURIComponent(uri))
  out.add(new URLSearchParams({ s: form }).toString().slice(2))
  // a URL written whole, where only what may not stand in it is escaped (`encodeURI`, and the
  // WHATWG URL parser's query and path sets: `new URL(...).href` of a URL holding the secret)
  if (uri !== undefined) {
    out.add(encodeURI(secret))
    out.add(percentEncode(bytes, queryEscaped))
    out.add(percentEncode(bytes, pathEscaped))
  }
  // hex dumps
  out.add(bytes.toString("hex"))
  out.add(bytes.toString("hex").toUpperCase())
  // base64 of the secret, and of its URL- and form-encoded forms (a `Basic` header of RFC 6749's
  // client_secret_basic encodes the secret first)
  for (const encoded of new Set([secret, uri ?? secret, form])) {
    for (const core of base64Cores(Buffer.from(encoded, "utf8"))) {
      out.add(core)
      out.add(core.replace(/\+/g, "-").replace(/\//g, "_"))
    }
  }
  return Array.from(out).filter((f) => f.length >= minSecretLength).sort((a, b) => b.length - a.length)
}

/** The WHATWG URL parser's special-query percent-encode set (beyond C0 controls and non-ASCII). */
const queryEscaped = new Set(" \"#<>'".split("").map((c) => c.charCodeAt(0)))
/** Its path percent-encode set. */
const pathEscaped = new Set(" \"#<>?`{}".split("").map((c) => c.charCodeAt(0)))

/** `bytes` (UTF-8) with C0 controls, DEL, non-ASCII and the bytes of `set` percent-encoded (uppercase hex). */
const percentEncode = (bytes: Buffer, set: ReadonlySet<number>): string => {
  let out = ""
  for (const b of bytes) {
    out += b < 0x20 || b >= 0x7f || set.has(b) ? `%${b.toString(16).toUpperCase().padStart(2, "0")}` : String.fromCharCode(b)
  }
  return out
}

/**
 * The base64 of `bytes` at each of the three byte alignments it can have inside a larger blob:
 * the characters whose 6 bits all come from `bytes`.
 */
const base64Cores = (bytes: Buffer): ReadonlyArray<string> => {
  const cores: Array<string> = []
  for (let shift = 0; shift < 3; shift++) {
    const padded = Buffer.concat([Buffer.alloc(shift), bytes])
    const b64 = padded.toString("base64").replace(/=+$/, "")
    const first = Math.ceil((shift * 8) / 6)
    const last = Math.floor(((shift + bytes.length) * 8) / 6) // exclusive
    const core = b64.slice(first, last)
    if (core.length >= minSecretLength) cores.push(core)
  }
  return cores
}

/** `compute`, remembered for the last `max` keys (the oldest entry goes first). */
const remembered = <A>(max: number, compute: (key: string) => A) => {
  const cache = new Map<string, A>()
  return (key: string): A => {
    let value = cache.get(key)
    if (value === undefined) {
      if (cache.size >= max) cache.delete(cache.keys().next().value!)
      value = compute(key)
      cache.set(key, value)
    }
    return value
  }
}

const formsCached = remembered(1024, forms)

/**
 * Compiles a scrubber for `secrets` (short ones are ignored, see `minSecretLength`). The last
 * 256 sets of secrets keep their scrubber (as the encoded forms of the last 1,024 secrets are
 * kept), so a call with the same credential as an earlier one does not compile it again.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (secrets: Iterable<string>): Scrubber => {
  // the same secrets give the same scrubber (a scrubber holds no state): calls with the same
  // credential reuse it instead of rebuilding the pattern list
  let key = ""
  for (const s of secrets) if (s.length >= minSecretLength) key += `${s.length}:${s}`
  return compiled(key)
}

/** Compiles the scrubber of a key as `make` builds it (each secret as `<length>:<secret>`). */
const compile = (key: string): Scrubber => {
  const patterns = new Set<string>()
  for (let i = 0; i < key.length;) {
    const colon = key.indexOf(":", i)
    const length = Number(key.slice(i, colon))
    for (const f of formsCached(key.slice(colon + 1, colon + 1 + length))) patterns.add(f)
    i = colon + 1 + length
  }
  const list = Array.from(patterns).sort((a, b) => b.length - a.length)
  // a text shorter than every form holds none (most object keys and short values): not searched
  const shortest = list.length === 0 ? Infinity : list[list.length - 1]!.length
  // the forms that can appear in a number's digits (only secrets made of digits have one)
  const numeric = list.filter((p) => /^[0-9]+$/.test(p))
  // `text` with every occurrence replaced; the number replaced is added to `found.count`
  const replaceIn = (text: string, found: { count: number }): string => {
    if (text.length < shortest) return text
    let value = text
    for (const p of list) {
      if (!value.includes(p)) continue
      // every occurrence of every form, found in the text as it is and replaced once each, so
      // that two secrets that overlap in it are both removed whole (replacing one first would
      // leave the other's tail)
      const plain = replaceMapped(value, value, same, next, list)
      found.count += plain.count
      value = plain.value
      break
    }
    if (hasLineBreak.test(value)) {
      const wrapped = scrubWrapped(value, list)
      found.count += wrapped.count
      value = wrapped.value
    }
    if (value.includes("&")) {
      const referenced = scrubDecoded(value, list, characterReference, decodeReference)
      found.count += referenced.count
      value = referenced.value
    }
    if (value.includes("\\u")) {
      const escaped = scrubDecoded(value, list, unicodeEscape, decodeUnicodeEscape)
      found.count += escaped.count
      value = escaped.value
    }
    return value
  }
  const scrubString = (text: string) => {
    const found = { count: 0 }
    const value = replaceIn(text, found)
    return { value, count: found.count }
  }
  const scrub = <A>(input: A): { readonly value: A; readonly count: number } => {
    if (list.length === 0) return { value: input, count: 0 }
    const found = { count: 0 }
    // Walks the value as `JSON.stringify` will serialise it (the SDK sends results as JSON):
    // `toJSON` is applied and a class instance contributes its own enumerable properties, so a
    // secret inside an `Option`, a `Data`/`Schema.Class` value or any user class is found too.
    const walk = (u: unknown, depth: number, key: string): unknown => {
      if (typeof u === "string") return replaceIn(u, found)
      if (typeof u === "number" || typeof u === "bigint") {
        // a numeric secret (`{"pin": 123456789}`) sent back as a number: the whole number goes
        if (numeric.length === 0) return u
        const text = String(u)
        let hits = 0
        for (const p of numeric) if (text.includes(p)) hits++
        if (hits === 0) return u
        found.count += hits
        return replacement
      }
      if (u === null || typeof u !== "object") return u
      if (depth > 64) return deep(u)
      if (seen === undefined) {
        // the common case: a tree, walked without bookkeeping
        if (--budget < 0) throw exhausted
        return walkObject(u, depth, key)
      }
      // past the budget: each object once. One referenced from several places is scrubbed (and
      // copied) once, and a reference back to an object being walked (a cycle, which
      // JSON.stringify refuses) is left as it is instead of being walked again down to the depth
      // limit on every path
      const known = seen.get(u)
      if (known !== undefined) return known
      seen.set(u, u)
      const y = walkObject(u, depth, key)
      seen.set(u, y)
      return y
    }
    let budget = objectBudget
    let seen: Map<object, unknown> | undefined
    const walkObject = (u: object, depth: number, key: string): unknown => {
      // a boxed string or number (`new String(s)`) is sent as the primitive it holds
      if (u instanceof String || u instanceof Number) {
        const primitive = u.valueOf()
        const y = walk(primitive, depth + 1, key)
        return y === primitive ? u : y
      }
      if (typeof (u as { toJSON?: unknown }).toJSON === "function") {
        let json: unknown
        try {
          json = (u as { toJSON: (key: string) => unknown }).toJSON(key)
        } catch {
          return u
        }
        if (json === u) return u
        const y = walk(json, depth + 1, key)
        return y === json ? u : y
      }
      if (Array.isArray(u)) {
        // copied from the first element that changes
        let out: Array<unknown> | undefined
        for (let i = 0; i < u.length; i++) {
          const x = u[i]
          const y = walk(x, depth + 1, String(i))
          if (out === undefined && y !== x) out = u.slice(0, i)
          if (out !== undefined) out.push(y)
        }
        return out ?? u
      }
      const keys = Object.keys(u)
      const values: Array<unknown> = new Array(keys.length)
      let changed = false
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!
        const v = (u as Record<string, unknown>)[k]
        const scrubbedKey = replaceIn(k, found)
        const y = walk(v, depth + 1, k)
        if (y !== v || scrubbedKey !== k) changed = true
        keys[i] = scrubbedKey
        values[i] = y
      }
      if (!changed) return u
      const out: Record<string, unknown> = {}
      for (let i = 0; i < keys.length; i++) {
        // an own `__proto__` key (JSON.parse makes one) stays a key, as `JSON.stringify` sends it
        if (keys[i] === "__proto__") Object.defineProperty(out, "__proto__", { value: values[i], enumerable: true, writable: true, configurable: true })
        else out[keys[i]!] = values[i]
      }
      // symbol-keyed properties are not sent, but the SDK may read them (v2 marks results so)
      for (const sym of Object.getOwnPropertySymbols(u)) {
        if (Object.prototype.propertyIsEnumerable.call(u, sym)) (out as Record<symbol, unknown>)[sym] = (u as Record<symbol, unknown>)[sym]
      }
      return out
    }
    // past 64 levels: scrub the serialised form instead of walking further (fail closed: a
    // subtree that cannot be serialised back after scrubbing is replaced)
    const deep = (u: unknown): unknown => {
      let text: string | undefined
      try {
        text = JSON.stringify(u)
      } catch {
        return u
      }
      if (text === undefined) return u
      const before = found.count
      const scrubbed = replaceIn(text, found)
      if (found.count === before) return u
      try {
        return JSON.parse(scrubbed)
      } catch {
        return replacement
      }
    }
    let value: A
    try {
      value = walk(input, 0, "") as A
    } catch (e) {
      if (e !== exhausted) throw e
      // many objects, or objects met more than once (a cycle): walked again, each object once
      found.count = 0
      seen = new Map()
      value = walk(input, 0, "") as A
    }
    return { value, count: found.count }
  }
  // shared by every call with the same secrets (`make` keeps it): nobody may change it
  return Object.freeze({ isEmpty: list.length === 0, scrub, scrubString })
}

/** How many objects a value may have before the walk keeps track of the objects it met. */
const objectBudget = 10_000
const exhausted = Symbol("exhausted")

const same = (i: number) => i
const next = (i: number) => i + 1

/** Line breaks, and the same JSON-escaped (`\n` in a JSON text, as a tool's object result is sent). */
const lineBreaks = /\r|\n|\\r|\\n/g
const hasLineBreak = /\r|\n|\\r|\\n/

/**
 * Occurrences split by line breaks (base64 wrapped at 64 or 76 characters, as PEM and MIME do),
 * real or JSON-escaped: searched in the text without its line breaks, and replaced in the text
 * itself.
 */
const scrubWrapped = (text: string, patterns: ReadonlyArray<string>): { readonly value: string; readonly count: number } => {
  // the text without line breaks (most texts with line breaks hold no wrapped secret: checked first)
  const joined = text.replace(lineBreaks, "")
  if (!patterns.some((p) => joined.includes(p))) return { value: text, count: 0 }
  // where each character of `joined` is in `text`
  const at: Array<number> = []
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 10 || c === 13) continue
    // a JSON escape `\n` / `\r` (not an escaped backslash followed by n)
    if (c === 92 && (text[i + 1] === "n" || text[i + 1] === "r") && !escapedBackslashBefore(text, i)) {
      i++
      continue
    }
    at.push(i)
  }
  // the same text as `joined`, built exactly (an escaped backslash before an `n` stays)
  let exact = ""
  for (const i of at) exact += text[i]
  return replaceMapped(text, exact, (i) => at[i]!, (i) => at[i]! + 1, patterns)
}

/**
 * Replaces in `text` the occurrences of `patterns` found in `view`, a transformed copy of it whose
 * character `i` comes from `text`'s `[startOf(i), endOf(i))`.
 */
const replaceMapped = (
  text: string,
  view: string,
  startOf: (i: number) => number,
  endOf: (i: number) => number,
  patterns: ReadonlyArray<string>
): { readonly value: string; readonly count: number } => {
  const ranges: Array<readonly [number, number]> = []
  for (const p of patterns) {
    for (let from = view.indexOf(p); from !== -1; from = view.indexOf(p, from + p.length)) {
      ranges.push([startOf(from), endOf(from + p.length - 1)])
    }
  }
  if (ranges.length === 0) return { value: text, count: 0 }
  ranges.sort((a, b) => a[0] - b[0])
  let value = ""
  let next = 0
  let count = 0
  for (const [start, end] of ranges) {
    if (end <= next) continue // inside an occurrence already replaced
    if (start < next) {
      next = end // overlaps the one just replaced: one replacement for both
      continue
    }
    value += text.slice(next, start) + replacement
    next = end
    count++
  }
  return { value: value + text.slice(next), count }
}

/** An HTML character reference: named (the five XML ones), decimal or hex, with any leading zeros. */
const characterReference = /&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|(amp|lt|gt|quot|apos));/g
const named: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: "\"", apos: "'" }

const decodeReference = (m: RegExpExecArray | RegExpMatchArray): string => {
  const code = m[1] !== undefined ? Number(m[1]) : m[2] !== undefined ? parseInt(m[2], 16) : -1
  return code >= 0 ? (code <= 0x10ffff ? String.fromCodePoint(code) : "\ufffd") : named[m[3]!]!
}

/** A JSON `\uXXXX` escape (serialisers that escape HTML-sensitive or non-ASCII characters). */
const unicodeEscape = /\\u([0-9a-fA-F]{4})/g
const decodeUnicodeEscape = (m: RegExpExecArray | RegExpMatchArray): string => String.fromCharCode(parseInt(m[1]!, 16))

/**
 * Occurrences written with escapes (HTML character references: whichever characters an escaper
 * chose to escape and however, `&#039;`, `&#34;`, `&#x2F;`, `&#43;`; JSON `\uXXXX` escapes):
 * searched in the text with its escapes decoded, and replaced in the text itself.
 */
const scrubDecoded = (
  text: string,
  patterns: ReadonlyArray<string>,
  escape: RegExp,
  decode: (m: RegExpMatchArray) => string
): { readonly value: string; readonly count: number } => {
  // the decoded text, and where each of its characters starts and ends in `text`
  let decoded = ""
  const starts: Array<number> = []
  const ends: Array<number> = []
  let last = 0
  let any = false
  for (const m of text.matchAll(escape)) {
    for (let i = last; i < m.index; i++) {
      decoded += text[i]
      starts.push(i)
      ends.push(i + 1)
    }
    const char = decode(m)
    for (let k = 0; k < char.length; k++) {
      decoded += char[k]
      starts.push(m.index)
      ends.push(m.index + m[0].length)
    }
    last = m.index + m[0].length
    any = true
  }
  if (!any) return { value: text, count: 0 }
  for (let i = last; i < text.length; i++) {
    decoded += text[i]
    starts.push(i)
    ends.push(i + 1)
  }
  return replaceMapped(text, decoded, (i) => starts[i]!, (i) => ends[i]!, patterns)
}

/** Whether the backslash at `i` is itself escaped (an odd run of backslashes before it). */
const escapedBackslashBefore = (text: string, i: number): boolean => {
  let n = 0
  for (let j = i - 1; j >= 0 && text.charCodeAt(j) === 92; j--) n++
  return n % 2 === 1
}

/** Scrubbers by their secrets' key. */
const compiled = remembered(256, compile)

/**
 * The empty scrubber.
 *
 * @since 0.1.0
 * @category constructors
 */
export const empty: Scrubber = make([])
