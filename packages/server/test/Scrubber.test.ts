import { describe, expect, it } from "vitest"
import * as fc from "fast-check"
import { Option } from "effect"
import { Scrubber } from "../src/index.js"

const secret = "sk-live-4f9a2b7c"

describe("Scrubber", () => {
  const s = Scrubber.make([secret])
  const cases: Array<[string, string]> = [
    ["plain", `key=${secret}`],
    ["Bearer", `Authorization: Bearer ${secret}`],
    ["JSON-escaped", JSON.stringify({ k: `"${secret}"` })],
    ["URL-encoded", `https://api/x?key=${encodeURIComponent(secret + "/+ ")}`],
    ["base64", Buffer.from(secret).toString("base64")],
    ["base64url", Buffer.from(secret).toString("base64url")],
    ["base64 inside Basic auth (offset 1)", `Basic ${Buffer.from(`u:${secret}`).toString("base64")}`],
    ["base64 inside a blob (offset 2)", Buffer.from(`ab${secret}cd`).toString("base64")],
    ["base64url inside a blob (offset 0)", Buffer.from(`abc${secret}`).toString("base64url")]
  ]
  for (const [name, text] of cases) {
    it(`finds the ${name} form`, () => {
      const r = s.scrubString(text)
      expect(r.count).toBeGreaterThan(0)
      expect(r.value).toContain("[redacted]")
      expect(r.value).not.toContain(secret)
    })
  }

  it("scrubs deep inside results: text, structured content, keys, arrays; leaves other values", () => {
    const result = {
      content: [{ type: "text", text: `echo ${secret}` }, { type: "image", data: "aGVsbG8=", mimeType: "image/png" }],
      structuredContent: { nested: [{ v: secret }], [secret]: 1, n: 42 },
      isError: false
    }
    const { count, value } = s.scrub(result)
    expect(count).toBe(3)
    expect(JSON.stringify(value)).not.toContain(secret)
    expect(value.structuredContent.n).toBe(42)
    expect(value.content[1]).toBe(result.content[1])
    expect(JSON.stringify(result)).toContain(secret) // the input is not mutated
  })

  it("walks values as JSON.stringify serialises them: class instances, toJSON (Option), depth beyond 64", () => {
    class Repo {
      constructor(readonly url: string, readonly safe = "ok") {}
    }
    const date = new Date(0)
    let deep: unknown = { leaf: `token=${secret}` }
    for (let i = 0; i < 100; i++) deep = { next: deep }
    const input = {
      repo: new Repo(`https://x/?k=${secret}`),
      opt: Option.some(secret),
      untouched: new Repo("https://x/"),
      date,
      deep
    }
    const { count, value } = s.scrub(input)
    const text = JSON.stringify(value)
    expect(text).not.toContain(secret)
    expect(count).toBe(3)
    expect(text).toContain("https://x/?k=[redacted]")
    expect(text).toContain("token=[redacted]")
    // what holds no secret keeps its identity (and serialises as before)
    expect(value.untouched).toBe(input.untouched)
    expect(value.date).toBe(date)
    expect(JSON.stringify(input)).toContain(secret) // the input is not mutated
  })

  it("ignores secrets shorter than the minimum", () => {
    expect(Scrubber.make(["abc"]).scrubString("abc abc").count).toBe(0)
  })

  it("the same secrets give back the same scrubber; other sets, however their secrets concatenate, never share one", () => {
    expect(Scrubber.make([secret])).toBe(s)
    expect(Scrubber.make(["ab", secret])).toBe(s) // a short secret is ignored either way
    // sets whose secrets run together into the same text, and secrets containing the separators
    const sets = [["secret-one1:2", "secret-two"], ["secret-one1", ":2secret-two"], ["secret-one1:2secret-two"], ["10:secret-ab", "cdef"]]
    const scrubbers = sets.map((set) => Scrubber.make(set))
    expect(new Set(scrubbers).size).toBe(sets.length)
    sets.forEach((set, i) => {
      for (const x of set) expect(scrubbers[i]!.scrubString(`<${x}>`).value).toBe("<[redacted]>")
      // a scrubber finds its own secrets only
      for (const [j, other] of sets.entries()) {
        if (j === i) continue
        for (const x of other) if (!set.some((y) => x.includes(y))) expect(scrubbers[i]!.scrubString(x).count).toBe(0)
      }
    })
    expect(Scrubber.make([]).isEmpty).toBe(true)
    expect(Scrubber.make([])).toBe(Scrubber.empty)
    // shared, so it cannot be changed
    expect(Object.isFrozen(s)).toBe(true)
    expect(() => {
      ;(s as { scrubString: unknown }).scrubString = () => ({ value: "", count: 0 })
    }).toThrow(TypeError)
  })

  it("fix: a secret that is not valid UTF-16 (a lone surrogate) still gets a scrubber, which finds it", () => {
    const odd = "sk-\uD800-lone-surrogate"
    const scrubber = Scrubber.make([odd])
    expect(scrubber.scrubString(`key=${odd}`).value).toBe("key=[redacted]")
    expect(scrubber.scrubString(JSON.stringify({ k: odd })).count).toBe(1)
  })

  it("property: any secret of 6+ characters embedded anywhere, in any listed form, is removed", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 6, maxLength: 40, unit: "grapheme" }),
        fc.string({ maxLength: 20 }),
        fc.string({ maxLength: 20 }),
        fc.constantFrom("plain", "json", "url", "b64", "b64url"),
        (sec, before, after, form) => {
          const encode = (x: string) =>
            form === "plain" ? x
            : form === "json" ? JSON.stringify(x)
            : form === "url" ? encodeURIComponent(x)
            : form === "b64" ? Buffer.from(x).toString("base64")
            : Buffer.from(x).toString("base64url")
          const text = form === "b64" || form === "b64url" ? encode(before + sec + after) : before + encode(sec) + after
          const out = Scrubber.make([sec]).scrubString(text).value
          const decoded = form === "b64" ? Buffer.from(out.replace(/\[redacted\]/g, ""), "base64").toString()
            : form === "b64url" ? Buffer.from(out.replace(/\[redacted\]/g, ""), "base64url").toString()
            : out
          expect(decoded.includes(sec) || out.includes(encode(sec))).toBe(false)
        }
      ),
      { numRuns: 1000 }
    )
  })
})

describe("Scrubber — nested and form encodings", () => {
  it("finds a secret JSON-escaped twice (JSON inside a JSON string)", () => {
    const sec = 'pa"ss\\word-1234'
    const text = JSON.stringify({ config: JSON.stringify({ apiKey: sec }) })
    const r = Scrubber.make([sec]).scrubString(text)
    expect(r.count).toBe(1)
    expect(JSON.parse(JSON.parse(r.value).config).apiKey).toBe("[redacted]")
  })
  it("finds a form-encoded secret (URLSearchParams escapes ~ ! ' ( ))", () => {
    const sec = "abc8Q~def!gh(i)j'k"
    const r = Scrubber.make([sec]).scrubString(new URLSearchParams({ client_secret: sec }).toString())
    expect(r.count).toBe(1)
    expect(r.value).toBe("client_secret=[redacted]")
  })
})

describe("Scrubber — fixes: lowercase percent-encoding, numbers, wrapped base64", () => {
  it("finds the forms other serialisers and encoders write: hex, \\/ and \\u escapes, HTML references, double URL encoding, base64 of the URL-encoded secret", () => {
    const awsLike = "wJalrXUtnFEMI/K7MDENG+bPxRfiCY<x>&'q"
    const s2 = Scrubber.make([awsLike])
    const bytes = Buffer.from(awsLike)
    const each = (f: (code: number) => string) => awsLike.replace(/[^A-Za-z0-9]/g, (c) => f(c.charCodeAt(0)))
    const texts = [
      bytes.toString("hex"),
      bytes.toString("hex").toUpperCase(),
      JSON.stringify(awsLike).replace(/\//g, "\\/"),
      each((c) => `\\u${c.toString(16).padStart(4, "0")}`),
      each((c) => `\\u${c.toString(16).padStart(4, "0").toUpperCase()}`),
      each((c) => `&#${c};`),
      each((c) => `&#x${c.toString(16)};`),
      each((c) => `&#x${c.toString(16).toUpperCase()};`),
      awsLike.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/'/g, "&#39;"),
      encodeURIComponent(encodeURIComponent(awsLike)),
      `Basic ${Buffer.from(`client:${encodeURIComponent(awsLike)}`).toString("base64")}`
    ]
    for (const text of texts) {
      const r = s2.scrubString(`before ${text} after`)
      expect(r.count, text).toBeGreaterThan(0)
      expect(r.value, text).toContain("[redacted]")
    }
  })

  it("finds a URL- or form-encoded secret with lowercase hex digits (%2f, as .NET's UrlEncode writes it)", () => {
    const sec = "sk/live+key=1"
    for (const text of [`k=${encodeURIComponent(sec).toLowerCase()}`, new URLSearchParams({ k: sec }).toString().replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase())]) {
      const r = Scrubber.make([sec]).scrubString(text)
      expect(r.count, text).toBe(1)
      expect(r.value).toBe("k=[redacted]")
    }
  })

  it("replaces a number whose digits hold a numeric secret, and leaves other numbers", () => {
    const s = Scrubber.make(["123456789"])
    const { count, value } = s.scrub({ structuredContent: { pin: 123456789, big: 99123456789n, other: 42, f: 1.5 } })
    expect(count).toBe(2)
    expect(value.structuredContent).toEqual({ pin: "[redacted]", big: "[redacted]", other: 42, f: 1.5 })
  })

  it("finds base64 of a secret wrapped across lines (MIME at 76, PEM at 64 characters, CRLF or LF)", () => {
    const sec = "sk-live-4f9a2b7c-0123456789abcdef-0123456789abcdef"
    const b64 = Buffer.from(`prefix bytes to push the secret across a line: ${sec} and after`).toString("base64")
    for (const [width, eol] of [[76, "\r\n"], [64, "\n"], [20, "\n"]] as const) {
      const wrapped = b64.match(new RegExp(`.{1,${width}}`, "g"))!.join(eol)
      const r = Scrubber.make([sec]).scrubString(`-----BEGIN DATA-----${eol}${wrapped}${eol}-----END DATA-----`)
      expect(r.count, `${width}`).toBe(1)
      expect(r.value).toContain("[redacted]")
      // nothing of the encoded secret is left in the joined text
      const core = Scrubber.forms(sec).filter((f) => b64.includes(f))[0]!
      expect(r.value.replace(/[\r\n]/g, "")).not.toContain(core)
      expect(r.value.startsWith("-----BEGIN DATA-----")).toBe(true)
      expect(r.value.endsWith("-----END DATA-----")).toBe(true)
    }
    // the same inside a tool's object result, sent as JSON text: the line breaks are `\n` escapes
    const wrapped = b64.match(/.{1,64}/g)!.join("\n")
    const text = JSON.stringify({ pem: `-----BEGIN DATA-----\n${wrapped}\n-----END DATA-----` })
    const r = Scrubber.make([sec]).scrubString(text)
    expect(r.count).toBe(1)
    const back = JSON.parse(r.value) as { pem: string }
    expect(back.pem.replace(/\n/g, "")).not.toContain(Scrubber.forms(sec).filter((f) => b64.includes(f))[0]!)
    // an escaped backslash followed by n is text, not a line break
    expect(Scrubber.make([sec]).scrubString("a\\\\nb")).toEqual({ value: "a\\\\nb", count: 0 })
    // text with line breaks and no secret is returned as it is
    const plain = "line one\nline two\r\nline three"
    expect(Scrubber.make([sec]).scrubString(plain)).toEqual({ value: plain, count: 0 })
  })
})

describe("Scrubber — symbol keys", () => {
  it("a changed object keeps its enumerable symbol-keyed properties (the SDK may read them before sending)", () => {
    const mark = Symbol("mark")
    const input = { text: "key sk-live-4f9a2b7c", [mark]: "kept" }
    const { value } = Scrubber.make(["sk-live-4f9a2b7c"]).scrub(input)
    expect(value.text).toBe("key [redacted]")
    expect(value[mark]).toBe("kept")
  })

  it("a changed object keeps an own __proto__ key as a key (JSON.parse makes one; JSON.stringify sends it)", () => {
    const input = JSON.parse(`{"__proto__": {"note": "kept"}, "text": "key ${secret}"}`)
    const { value } = Scrubber.make([secret]).scrub(input)
    expect(JSON.stringify(value)).toBe(`{"__proto__":{"note":"kept"},"text":"key [redacted]"}`)
    expect(Object.getPrototypeOf(value)).toBe(Object.prototype)
  })

  it("an array changed in the middle keeps the elements before and after, in order; an unchanged one is returned as is", () => {
    const items = ["a", { k: 1 }, `x ${secret}`, "b", secret]
    const { count, value } = Scrubber.make([secret]).scrub(items)
    expect(count).toBe(2)
    expect(value).toEqual(["a", { k: 1 }, "x [redacted]", "b", "[redacted]"])
    expect(value[1]).toBe(items[1])
    const clean = ["a", "b"]
    expect(Scrubber.make([secret]).scrub(clean).value).toBe(clean)
  })

  it("a text shorter than every form of the secrets is left alone, one as long as a form is searched", () => {
    const s4 = Scrubber.make(["abcd"])
    expect(s4.scrubString("abc").count).toBe(0)
    expect(s4.scrubString("abcd")).toEqual({ value: "[redacted]", count: 1 })
    expect(s4.scrub({ abcd: "abc" }).value).toEqual({ "[redacted]": "abc" })
  })

  it("fix: an object that refers back to itself (twice) is scrubbed at once, not walked down to the depth limit on every path", () => {
    const node: Record<string, unknown> = { text: `key ${secret}` }
    node.parent = node
    node.self = node
    const started = Date.now()
    const { count, value } = Scrubber.make([secret]).scrub({ data: node })
    expect(Date.now() - started).toBeLessThan(1000)
    expect(count).toBe(1)
    expect((value.data as Record<string, unknown>).text).toBe("key [redacted]")
    // a shared (not cyclic) object is scrubbed wherever it appears
    const shared = { k: secret }
    const twice = Scrubber.make([secret]).scrub({ a: shared, b: shared })
    expect(twice.value).toEqual({ a: { k: "[redacted]" }, b: { k: "[redacted]" } })
  })

  it("fix: finds a secret whichever characters an HTML escaper wrote as references, and however (&#039; &#34; &#x2F; &#43;)", () => {
    const s2 = Scrubber.make(["pa'ss\"w/o+rd=42"])
    for (const text of [
      "pa&#039;ss&quot;w/o+rd=42",
      "pa'ss&#34;w&#x2F;o+rd=42",
      "pa&#x27;ss\"w/o&#43;rd&#61;42",
      "pa&#0039;ss&#x00022;w&#X2f;o+rd=42"
    ]) {
      const r = s2.scrubString(`<input value="${text}">`)
      expect(r.value, text).toBe(`<input value="[redacted]">`)
      expect(r.count, text).toBe(1)
    }
    expect(s2.scrubString("fish &amp; chips &#38; peas").count).toBe(0)
  })
})

describe("Scrubber — fixes: boxed strings, whole URLs, double form encoding, overlapping secrets", () => {
  it("a boxed string or number (new String(secret)) is scrubbed as the primitive JSON.stringify sends", () => {
    const s2 = Scrubber.make(["sk-Live/ab+cd=ef gh", "987654321"])
    // eslint-disable-next-line no-new-wrappers
    const value = { text: new String("token sk-Live/ab+cd=ef gh"), pin: new Number(987654321), other: new String("kept") }
    const out = JSON.stringify(s2.scrub(value).value)
    expect(out).not.toContain("sk-Live")
    expect(out).not.toContain("987654321")
    expect(out).toContain("kept")
    const unchanged = { a: new String("nothing here") }
    expect(s2.scrub(unchanged).value).toBe(unchanged)
  })

  it("finds a secret in a URL written whole: encodeURI, and new URL(...).href in the query and in the path", () => {
    const pw = "correct horse/battery'`{x}\"é"
    const s2 = Scrubber.make([pw])
    for (const text of [
      encodeURI(`https://api.example/login?password=${pw}`),
      new URL(`https://api.example/login?password=${pw}`).href
    ]) {
      const r = s2.scrubString(`GET ${text} -> 401`)
      expect(r.count, text).toBeGreaterThan(0)
      expect(r.value, text).not.toContain("horse")
    }
    const s3 = Scrubber.make([pw.replace(/[/?#]/g, "_")])
    expect(s3.scrubString(new URL(`https://api.example/users/${pw.replace(/[/?#]/g, "_")}`).href).value).not.toContain("horse")
  })

  it("finds a secret form-encoded twice", () => {
    const pw = "a b&c=d/e~f"
    const once = new URLSearchParams({ s: pw }).toString().slice(2)
    const twice = new URLSearchParams({ s: once }).toString().slice(2)
    const r = Scrubber.make([pw]).scrubString(`next=${twice}`)
    expect(r.value).toBe("next=[redacted]")
  })

  it("two secrets that overlap in a text are both removed whole (no tail of either left)", () => {
    const s2 = Scrubber.make(["abcdef123", "f123xyz789"])
    const r = s2.scrubString("key=abcdef123xyz789;")
    expect(r.value).toBe("key=[redacted];")
    expect(r.count).toBe(1)
    // apart, each counts
    expect(s2.scrubString("abcdef123 f123xyz789 abcdef123abcdef123").count).toBe(4)
  })
})
