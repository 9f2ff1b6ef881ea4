import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, DateTime, DefaultServices, Effect, Either, FiberRef, Layer, Redacted, TestClock } from "effect"
import { CredentialBackend, HeaderCredentialBackend, ResolvedCredential } from "../src/index.js"
const CredentialBackendTag = CredentialBackend.CredentialBackend
import type { RequestHeaders } from "../src/CredentialBackend.js"
import type { CredentialKind } from "../src/ResolvedCredential.js"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const backend = HeaderCredentialBackend.make()
const resolve = (headers: RequestHeaders | undefined, kind: CredentialKind) => backend.resolve({ kind, headers })

const oauth = (headers: RequestHeaders) =>
  Effect.map(resolve({ "X-MCP-Cred-Access-Token": "ya29.tok", ...headers }, "oauth"), (c) => {
    if (c.type !== "oauth") throw new Error("expected oauth")
    return c
  })

const fieldsOf = (raw: string) =>
  Effect.map(resolve({ "X-MCP-Cred-Fields": raw }, "static"), (c) =>
    c.type === "static" ? Object.fromEntries(Object.entries(c.fields).map(([k, v]) => [k, Redacted.value(v)])) : {})

describe("HeaderCredentialBackend — seed §1.11 (test_headers.py)", () => {
  it.effect("fix: no request (stdio), oauth → MissingCredentialHeaderError, not a crash", () =>
    Effect.map(Effect.flip(resolve(undefined, "oauth")), (e) => assert.deepStrictEqual(e, new (e.constructor as any)({ headers: ["X-MCP-Cred-Access-Token"] }))))

  it.effect("fix: no request (stdio), static → MissingCredentialHeaderError", () =>
    Effect.map(Effect.flip(resolve(undefined, "static")), (e) => assert.strictEqual(e._tag, "MissingCredentialHeaderError")))

  it.effect("keep: no headers, oauth → error names X-MCP-Cred-Access-Token", () =>
    Effect.map(Effect.flip(resolve({}, "oauth")), (e) => {
      assert.strictEqual(e._tag, "MissingCredentialHeaderError")
      assert.include(e.message, "X-MCP-Cred-Access-Token")
      assert.deepStrictEqual(e._tag === "MissingCredentialHeaderError" && e.headers, ["X-MCP-Cred-Access-Token"])
      assert.strictEqual(
        e.message,
        "Missing credential headers: X-MCP-Cred-Access-Token. Connect your account in the gateway to inject credentials."
      )
    }))

  it.effect("keep: no headers, static → error names X-MCP-Cred-Fields", () =>
    Effect.map(Effect.flip(resolve({}, "static")), (e) => {
      assert.include(e.message, "X-MCP-Cred-Fields")
      assert.deepStrictEqual(e._tag === "MissingCredentialHeaderError" && e.headers, ["X-MCP-Cred-Fields"])
    }))

  it.effect("keep: Access-Token header → type oauth", () => Effect.map(oauth({}), (c) => assert.strictEqual(c.type, "oauth")))

  it.effect("keep: Access-Token header → accessToken", () =>
    Effect.map(oauth({}), (c) => assert.strictEqual(Redacted.value(c.accessToken), "ya29.tok")))

  it.effect("keep: Fields header → type static", () =>
    Effect.map(resolve({ "X-MCP-Cred-Fields": '{"apiKey":"sk-abc"}' }, "static"), (c) => assert.strictEqual(c.type, "static")))

  it.effect("keep: Fields secretKey mapped", () =>
    Effect.map(fieldsOf('{"secretKey":"sk_live_abc"}'), (f) => assert.strictEqual(f.secretKey, "sk_live_abc")))

  it.effect("keep: Fields with two keys mapped", () =>
    Effect.map(fieldsOf('{"keyId":"k","keySecret":"s"}'), (f) => assert.deepStrictEqual(f, { keyId: "k", keySecret: "s" })))

  it.effect("fix: Fields numbers and booleans use JSON spelling ('42', 'true'), not Python's 'True'", () =>
    Effect.map(fieldsOf('{"count":42,"flag":true}'), (f) => assert.deepStrictEqual(f, { count: "42", flag: "true" })))

  it.effect("fix: Fields not JSON → InvalidCredentialHeaderError naming the header (seed silently gave fields {})", () =>
    Effect.map(Effect.flip(resolve({ "X-MCP-Cred-Fields": "!!!not-json!!!" }, "static")), (e) => {
      assert.strictEqual(e._tag, "InvalidCredentialHeaderError")
      assert.include(e.message, "X-MCP-Cred-Fields")
      assert.notInclude(e.message, "not-json")
    }))

  it.effect("keep: static credential has no access token", () =>
    Effect.map(resolve({ "X-MCP-Cred-Fields": '{"a":"b"}', "X-MCP-Cred-Access-Token": "t" }, "static"), (c) =>
      assert.isFalse("accessToken" in c)))

  it.effect("keep: static credential has no extra", () =>
    Effect.map(resolve({ "X-MCP-Cred-Fields": '{"a":"b"}', "X-MCP-Cred-Extra": '{"x":1}' }, "static"), (c) =>
      assert.isFalse("extra" in c)))

  it.effect("keep: Scopes 'read write admin' → three scopes", () =>
    Effect.map(oauth({ "X-MCP-Cred-Scopes": "read write admin" }), (c) => assert.deepStrictEqual(c.scopes, ["read", "write", "admin"])))

  it.effect("keep: Scopes as a JSON array", () =>
    Effect.map(oauth({ "X-MCP-Cred-Scopes": '["read", "write"]' }), (c) => assert.deepStrictEqual(c.scopes, ["read", "write"])))

  it.effect("keep: no Scopes header → no scopes", () => Effect.map(oauth({}), (c) => assert.isUndefined(c.scopes)))

  it.effect("keep: Extra JSON object mapped", () =>
    Effect.map(oauth({ "X-MCP-Cred-Extra": '{"dc":"us10","workspace":"my-ws"}' }), (c) =>
      assert.deepStrictEqual(c.extra, { dc: "us10", workspace: "my-ws" })))

  it.effect("keep: no Extra header → extra {}", () => Effect.map(oauth({}), (c) => assert.deepStrictEqual(c.extra, {})))

  it.effect("fix: Extra not JSON → InvalidCredentialHeaderError naming the header (seed silently gave {})", () =>
    Effect.map(Effect.flip(oauth({ "X-MCP-Cred-Extra": "!!!not-json!!!" })), (e) => {
      assert.strictEqual(e._tag, "InvalidCredentialHeaderError")
      assert.include(e.message, "X-MCP-Cred-Extra")
    }))

  it.effect("keep: Expires-At with offset", () =>
    Effect.map(oauth({ "X-MCP-Cred-Expires-At": "2026-05-04T12:00:00+00:00" }), (c) =>
      assert.strictEqual(c.expiresAt && DateTime.toEpochMillis(c.expiresAt), Date.UTC(2026, 4, 4, 12))))

  it.effect("keep: naive Expires-At is UTC", () =>
    Effect.map(oauth({ "X-MCP-Cred-Expires-At": "2026-05-04T12:00:00" }), (c) =>
      assert.strictEqual(c.expiresAt && DateTime.toEpochMillis(c.expiresAt), Date.UTC(2026, 4, 4, 12))))

  it.effect("keep: no Expires-At → no expiry", () => Effect.map(oauth({}), (c) => assert.isUndefined(c.expiresAt)))

  it.effect("fix: bad Expires-At → InvalidCredentialHeaderError naming the header, value not quoted (seed logged it and ignored)", () =>
    Effect.map(Effect.flip(oauth({ "X-MCP-Cred-Expires-At": "not-a-date" })), (e) => {
      assert.strictEqual(e._tag, "InvalidCredentialHeaderError")
      assert.include(e.message, "X-MCP-Cred-Expires-At")
      assert.notInclude(e.message, "not-a-date")
    }))
})

describe("HeaderCredentialBackend — seed §1.12 and lookup", () => {
  it.effect("keep: Scopes '[]' → []", () => Effect.map(oauth({ "X-MCP-Cred-Scopes": "[]" }), (c) => assert.deepStrictEqual(c.scopes, [])))

  it.effect("fix: Scopes split on any white space like the env backend ('read\\twrite' → two scopes)", () =>
    Effect.map(oauth({ "X-MCP-Cred-Scopes": "read\twrite" }), (c) => assert.deepStrictEqual(c.scopes, ["read", "write"])))

  it.effect("keep: Scopes '[' (bad JSON) falls back to splitting", () =>
    Effect.map(oauth({ "X-MCP-Cred-Scopes": "[" }), (c) => assert.deepStrictEqual(c.scopes, ["["])))

  it.effect("keep: empty strings in a JSON scope array are dropped", () =>
    Effect.map(oauth({ "X-MCP-Cred-Scopes": '["a","","b"]' }), (c) => assert.deepStrictEqual(c.scopes, ["a", "b"])))

  it.effect("fix: non-string items in a JSON scope array → InvalidCredentialHeaderError", () =>
    Effect.map(Effect.flip(oauth({ "X-MCP-Cred-Scopes": '["a",1]' })), (e) => {
      assert.strictEqual(e._tag, "InvalidCredentialHeaderError")
      assert.include(e.message, "X-MCP-Cred-Scopes")
    }))

  it.effect("fix: Extra 'null' or '[1]' (not an object) → InvalidCredentialHeaderError (seed passed them through)", () =>
    Effect.gen(function*() {
      for (const raw of ["null", "[1]", '"x"']) {
        const e = yield* Effect.flip(oauth({ "X-MCP-Cred-Extra": raw }))
        assert.strictEqual(e._tag, "InvalidCredentialHeaderError", raw)
        // its example is metadata, not the secret fields' keyId/keySecret
        assert.include(e.message, `e.g. '{"region":"eu-west-1"}'`)
        assert.notInclude(e.message, "keySecret")
      }
    }))

  it.effect("fix: Fields '[1]' (not an object) → InvalidCredentialHeaderError", () =>
    Effect.map(Effect.flip(resolve({ "X-MCP-Cred-Fields": "[1]" }, "static")), (e) => {
      assert.strictEqual(e._tag, "InvalidCredentialHeaderError")
      assert.include(e.message, "JSON object")
    }))

  it.effect("fix: Fields with null, array or object values → InvalidCredentialHeaderError naming the field", () =>
    Effect.gen(function*() {
      for (const raw of ['{"apiKey":null}', '{"apiKey":[1]}', '{"apiKey":{"a":1}}']) {
        const e = yield* Effect.flip(resolve({ "X-MCP-Cred-Fields": raw }, "static"))
        assert.strictEqual(e._tag, "InvalidCredentialHeaderError")
        assert.include(e.message, '"apiKey"')
      }
    }))

  it.effect("keep: a static resolution never looks at Access-Token; an oauth one never at Fields", () =>
    Effect.gen(function*() {
      const s = yield* Effect.flip(resolve({ "X-MCP-Cred-Access-Token": "t" }, "static"))
      assert.strictEqual(s._tag, "MissingCredentialHeaderError")
      const o = yield* Effect.flip(resolve({ "X-MCP-Cred-Fields": '{"a":"b"}' }, "oauth"))
      assert.strictEqual(o._tag, "MissingCredentialHeaderError")
    }))

  it.effect("keep: header lookup is case-insensitive; a repeated header gives its first value", () =>
    Effect.gen(function*() {
      const a = yield* oauth({ "X-MCP-Cred-Access-Token": undefined, "x-mcp-cred-access-token": ["first", "second"] })
      assert.strictEqual(Redacted.value(a.accessToken), "first")
      const b = yield* resolve({ "X-MCP-CRED-FIELDS": '{"k":"v"}' }, "static")
      assert.strictEqual(b.type, "static")
    }))

  it.effect("keep: Fields value is trimmed before parsing", () =>
    Effect.map(fieldsOf('  {"k":"v"}  '), (f) => assert.deepStrictEqual(f, { k: "v" })))

  it.effect("fix: Fields '{}' → InvalidCredentialHeaderError (no fields)", () =>
    Effect.map(Effect.flip(resolve({ "X-MCP-Cred-Fields": "{}" }, "static")), (e) => assert.strictEqual(e._tag, "InvalidCredentialHeaderError")))

  it.effect("keep: a custom prefix reads its own headers (a second credential)", () =>
    Effect.gen(function*() {
      const jira = HeaderCredentialBackend.make({ prefix: "X-MCP-Cred-Jira-" })
      const c = yield* jira.resolve({ kind: "static", headers: { "X-MCP-Cred-Fields": '{"a":"default"}', "x-mcp-cred-jira-fields": '{"a":"jira"}' } })
      assert.strictEqual(c.type === "static" && Redacted.value(c.fields.a!), "jira")
    }))
})

describe("HeaderCredentialBackend — gateway authentication", () => {
  const secret = Redacted.make("gw-secret-0123456789")
  const gated = HeaderCredentialBackend.make({ gatewaySecret: secret })
  const credHeaders = { "X-MCP-Cred-Fields": '{"apiKey":"sk-gw"}' }
  const now = Date.UTC(2026, 10, 23, 12) // TestClock time
  const at = (effect: Effect.Effect<any, any>) => Effect.zipRight(TestClock.setTime(now), effect)

  it.effect("fix: with a gateway secret, unsigned credential headers → UntrustedGatewayError", () =>
    at(Effect.map(Effect.flip(gated.resolve({ kind: "static", headers: credHeaders })), (e) => {
      assert.strictEqual(e._tag, "UntrustedGatewayError")
      assert.include(e.message, "X-MCP-Gateway-Signature")
    })))

  it.effect("fix: a valid HMAC signature is accepted", () =>
    at(Effect.gen(function*() {
      const headers = { ...credHeaders, ...HeaderCredentialBackend.signGatewayHeaders(credHeaders, secret, { timestamp: now / 1000 }) }
      const c = yield* gated.resolve({ kind: "static", headers })
      assert.strictEqual(c.type === "static" && Redacted.value(c.fields.apiKey!), "sk-gw")
    })))

  it.effect("fix: headers changed after signing → UntrustedGatewayError", () =>
    at(Effect.gen(function*() {
      const sig = HeaderCredentialBackend.signGatewayHeaders(credHeaders, secret, { timestamp: now / 1000 })
      const e = yield* Effect.flip(gated.resolve({ kind: "static", headers: { "X-MCP-Cred-Fields": '{"apiKey":"sk-evil"}', ...sig } }))
      assert.strictEqual(e._tag, "UntrustedGatewayError")
      const added = yield* Effect.flip(gated.resolve({ kind: "static", headers: { ...credHeaders, "X-MCP-Cred-Extra": "{}", ...sig } }))
      assert.strictEqual(added._tag, "UntrustedGatewayError")
    })))

  it.effect("fix: a signature by another secret → UntrustedGatewayError", () =>
    at(Effect.gen(function*() {
      const sig = HeaderCredentialBackend.signGatewayHeaders(credHeaders, Redacted.make("other"), { timestamp: now / 1000 })
      const e = yield* Effect.flip(gated.resolve({ kind: "static", headers: { ...credHeaders, ...sig } }))
      assert.strictEqual(e._tag, "UntrustedGatewayError")
      assert.notInclude(e.message, "gw-secret")
    })))

  it.effect("fix: a timestamp outside the allowed skew → UntrustedGatewayError", () =>
    at(Effect.gen(function*() {
      const sig = HeaderCredentialBackend.signGatewayHeaders(credHeaders, secret, { timestamp: now / 1000 - 600 })
      const e = yield* Effect.flip(gated.resolve({ kind: "static", headers: { ...credHeaders, ...sig } }))
      assert.strictEqual(e._tag, "UntrustedGatewayError")
      assert.include(e.message, "clock skew")
    })))

  it.effect("fix: shared-secret scheme: right secret accepted, wrong or missing refused", () =>
    Effect.gen(function*() {
      const b = HeaderCredentialBackend.make({ gatewaySecret: secret, gatewayScheme: "secret" })
      const ok = yield* b.resolve({ kind: "static", headers: { ...credHeaders, "X-MCP-Gateway-Secret": "gw-secret-0123456789" } })
      assert.strictEqual(ok.type, "static")
      const wrong = yield* Effect.flip(b.resolve({ kind: "static", headers: { ...credHeaders, "x-mcp-gateway-secret": "nope" } }))
      assert.strictEqual(wrong._tag, "UntrustedGatewayError")
      const missing = yield* Effect.flip(b.resolve({ kind: "static", headers: credHeaders }))
      assert.strictEqual(missing._tag, "UntrustedGatewayError")
    }))

  it("canonical string: v1, timestamp, sorted lowercase credential headers only", () => {
    const s = HeaderCredentialBackend.canonicalGatewayString(
      { "X-MCP-Cred-Scopes": "a b", "x-mcp-cred-access-token": "t", Authorization: "Bearer x" },
      "100"
    )
    assert.strictEqual(s, "v1\n100\nx-mcp-cred-access-token:t\nx-mcp-cred-scopes:a b")
  })
})

describe("HeaderCredentialBackend — gateway with named backends and Config", () => {
  const secret = Redacted.make("gw-secret-named")
  it.effect("one signature covers the default and a named backend's headers (X-MCP-Cred-Jira-*)", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_800_000_000_000)
      const injected = { "X-MCP-Cred-Fields": '{"a":"default"}', "X-MCP-Cred-Jira-Fields": '{"a":"jira"}' }
      const headers = { ...injected, ...HeaderCredentialBackend.signGatewayHeaders(injected, secret, { timestamp: 1_800_000_000 }) }
      const d = yield* HeaderCredentialBackend.make({ gatewaySecret: secret }).resolve({ kind: "static", headers })
      const j = yield* HeaderCredentialBackend.make({ gatewaySecret: secret, prefix: "X-MCP-Cred-Jira-" }).resolve({ kind: "static", headers })
      assert.strictEqual(d.type === "static" && Redacted.value(d.fields.a!), "default")
      assert.strictEqual(j.type === "static" && Redacted.value(j.fields.a!), "jira")
      // a tampered jira header breaks the default backend's check too
      const tampered = { ...headers, "X-MCP-Cred-Jira-Fields": '{"a":"evil"}' }
      assert.strictEqual((yield* Effect.flip(HeaderCredentialBackend.make({ gatewaySecret: secret }).resolve({ kind: "static", headers: tampered })))._tag, "UntrustedGatewayError")
    }))

  it("canonical string sorts by header name, not by whole line", () => {
    const s = HeaderCredentialBackend.canonicalGatewayString({ "X-MCP-Cred-Fields-X": "a", "X-MCP-Cred-Fields": "b" }, "1")
    assert.strictEqual(s, "v1\n1\nx-mcp-cred-fields:b\nx-mcp-cred-fields-x:a")
  })

  it.effect("fix: an empty gateway secret trusts nobody (anyone could sign with it): layerConfig fails naming it, make refuses every request", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(1_800_000_000_000)
      const empty = Redacted.make("")
      const injected = { "X-MCP-Cred-Fields": '{"a":"attacker"}' }
      const signed = { ...injected, ...HeaderCredentialBackend.signGatewayHeaders(injected, empty, { timestamp: 1_800_000_000 }) }
      for (const scheme of ["hmac", "secret"] as const) {
        const headers = scheme === "hmac" ? signed : { ...injected, "X-MCP-Gateway-Secret": "" }
        const e = yield* Effect.flip(HeaderCredentialBackend.make({ gatewaySecret: empty, gatewayScheme: scheme }).resolve({ kind: "static", headers }))
        assert.strictEqual(e._tag, "UntrustedGatewayError", scheme)
        assert.include(e.message, "empty")
      }
      const failed = yield* Effect.flip(
        Layer.build(HeaderCredentialBackend.layerConfig({ gatewaySecret: Config.redacted("GW_SECRET") })).pipe(
          Effect.scoped,
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["GW_SECRET", ""]])))
        )
      )
      assert.include(String(failed), "gatewaySecret")
      assert.include(String(failed), "empty")
    }))

  it.effect("layerConfig reads the gateway secret through Config", () =>
    Effect.gen(function*() {
      const backend = yield* CredentialBackendTag
      const e = yield* Effect.flip(backend.resolve({ kind: "static", headers: { "X-MCP-Cred-Fields": '{"a":"b"}' } }))
      assert.strictEqual(e._tag, "UntrustedGatewayError")
    }).pipe(
      Effect.provide(HeaderCredentialBackend.layerConfig({ gatewaySecret: Config.redacted("GW_SECRET") })),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["GW_SECRET", "from-config"]])))
    ))
})

describe("HeaderCredentialBackend — unsafeResolve (the server's call path without a fiber)", () => {
  const services = FiberRef.get(DefaultServices.currentServices)
  const secret = Redacted.make("gw-secret-123456")

  const outcome = (e: Either.Either<ResolvedCredential.ResolvedCredential, { _tag: string; message: string }>) =>
    Either.isLeft(e) ? { error: e.left._tag, message: e.left.message } : {
      type: e.right.type,
      secrets: ResolvedCredential.secretValues(e.right),
      json: JSON.stringify(e.right)
    }

  const fields = { "X-MCP-Cred-Fields": '{"apiKey":"sk-abc"}' }
  // the TestClock starts at 0: a timestamp of 0 s is "now"
  const signed = { ...fields, ...HeaderCredentialBackend.signGatewayHeaders(fields, secret, { timestamp: 0 }) }
  const cases: ReadonlyArray<readonly [string, HeaderCredentialBackend.Options, CredentialKind, RequestHeaders | undefined]> = [
    ["fields", {}, "static", fields],
    ["no request (stdio)", {}, "static", undefined],
    ["no header", {}, "oauth", {}],
    ["fields not JSON", {}, "static", { "X-MCP-Cred-Fields": "{nope" }],
    ["fields empty object", {}, "static", { "X-MCP-Cred-Fields": "{}" }],
    ["oauth with scopes, expiry and extra", {}, "oauth", {
      "X-MCP-Cred-Access-Token": "at-1",
      "X-MCP-Cred-Scopes": "repo read:org",
      "X-MCP-Cred-Expires-At": "2026-05-04T12:00:00Z",
      "X-MCP-Cred-Extra": '{"team":"core"}'
    }],
    ["oauth, bad expiry", {}, "oauth", { "X-MCP-Cred-Access-Token": "at-1", "X-MCP-Cred-Expires-At": "soon" }],
    ["oauth, scopes array with a number", {}, "oauth", { "X-MCP-Cred-Access-Token": "at-1", "X-MCP-Cred-Scopes": "[1]" }],
    ["gateway secret, right", { gatewaySecret: secret, gatewayScheme: "secret" }, "static", {
      ...fields,
      "X-MCP-Gateway-Secret": "gw-secret-123456"
    }],
    ["gateway secret, wrong", { gatewaySecret: secret, gatewayScheme: "secret" }, "static", {
      ...fields,
      "X-MCP-Gateway-Secret": "nope"
    }],
    ["gateway signature, valid at the runtime's time", { gatewaySecret: secret }, "static", signed],
    ["gateway signature, missing", { gatewaySecret: secret }, "static", fields],
    ["gateway signature, tampered", { gatewaySecret: secret }, "static", { ...signed, "X-MCP-Cred-Fields": '{"apiKey":"x"}' }]
  ]

  const accepted = new Set(["fields", "oauth with scopes, expiry and extra", "gateway secret, right", "gateway signature, valid at the runtime's time"])
  cases.forEach(([name, options, kind, headers]) =>
    it.effect(`the same outcome as resolve: ${name}`, () =>
      Effect.gen(function*() {
        const backend = HeaderCredentialBackend.make(options)
        const viaEffect = yield* Effect.either(backend.resolve({ kind, headers }))
        const viaSync = backend.unsafeResolve!({ kind, headers }, yield* services)
        assert.isDefined(viaSync)
        assert.deepStrictEqual(outcome(viaSync!), outcome(viaEffect))
        assert.strictEqual(Either.isRight(viaSync!), accepted.has(name))
      })))

  it.effect("a signature's clock skew is judged by the runtime's Clock (TestClock)", () =>
    Effect.gen(function*() {
      const backend = HeaderCredentialBackend.make({ gatewaySecret: secret })
      const s = yield* services
      assert.isTrue(Either.isRight(backend.unsafeResolve!({ kind: "static", headers: signed }, s)!))
      yield* TestClock.adjust("6 minutes")
      const late = backend.unsafeResolve!({ kind: "static", headers: signed }, s)!
      assert.strictEqual(Either.isLeft(late) && late.left._tag, "UntrustedGatewayError")
    }))
})

describe("the README's plain-Node gateway signer", () => {
  it("gives the same headers as signGatewayHeaders, with the default prefix and with one outside the family", async () => {
    const readme = readFileSync(fileURLToPath(new URL("../README.md", import.meta.url)), "utf8")
    const block = readme.split("```js\n").map((b) => b.split("```")[0]!).find((b) => b.includes("export function signGatewayHeaders"))
    assert.isDefined(block)
    const dir = mkdtempSync(join(tmpdir(), "readme-signer-"))
    try {
      const file = join(dir, "signer.mjs")
      writeFileSync(file, block!)
      const plain = (await import(pathToFileURL(file).href)) as {
        signGatewayHeaders: (h: Record<string, string>, secret: string, prefix?: string, now?: number) => Record<string, string>
      }
      const secret = "gateway-secret-0123456789"
      const headers = { "X-MCP-Cred-Access-Token": "ya29.tok", "X-MCP-Cred-Scopes": "repo", "X-Jira-Fields": "{\"pat\":\"p\"}", Other: "x" }
      const now = 1_795_435_200_000
      for (const prefix of [undefined, "X-Jira-"]) {
        assert.deepStrictEqual(
          plain.signGatewayHeaders(headers, secret, prefix, now),
          HeaderCredentialBackend.signGatewayHeaders(headers, Redacted.make(secret), { timestamp: now / 1000, ...(prefix ? { prefix } : {}) }),
          prefix ?? "default"
        )
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe("HeaderCredentialBackend — keys and numbers that would be lost", () => {
  it.effect("fix: __proto__ in X-MCP-Cred-Fields or -Extra is refused (it set the prototype of extra, or dropped a field)", () =>
    Effect.gen(function*() {
      const fields = yield* Effect.flip(resolve({ "X-MCP-Cred-Fields": '{"__proto__":"k","apiKey":"v"}' }, "static"))
      assert.strictEqual(fields._tag, "InvalidCredentialHeaderError")
      assert.include(fields.message, "__proto__")
      const extra = yield* Effect.flip(oauth({ "X-MCP-Cred-Extra": '{"__proto__":{"isAdmin":true},"region":"eu"}' }))
      assert.strictEqual(extra._tag, "InvalidCredentialHeaderError")
      assert.include(extra.message, "X-MCP-Cred-Extra")
    }))

  it.effect("fix: an integer past 2^53 in X-MCP-Cred-Fields is refused, naming the field", () =>
    Effect.map(Effect.flip(resolve({ "X-MCP-Cred-Fields": '{"accountId":12345678901234567891}' }, "static")), (e) => {
      assert.strictEqual(e._tag, "InvalidCredentialHeaderError")
      assert.include(e.message, "accountId")
      assert.notInclude(e.message, "1234567890123456")
    }))

  it.effect("fix: a number past the range of a double in X-MCP-Cred-Fields is refused, not turned into \"null\"", () =>
    Effect.map(Effect.flip(resolve({ "X-MCP-Cred-Fields": '{"apiKey":1e400}' }, "static")), (e) => {
      assert.strictEqual(e._tag, "InvalidCredentialHeaderError")
      assert.include(e.message, "apiKey")
    }))
})
