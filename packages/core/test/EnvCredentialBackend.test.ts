import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, DateTime, DefaultServices, Effect, Either, FiberRef, Redacted, TestClock } from "effect"
import { CredentialBackend, EnvCredentialBackend, ResolvedCredential } from "../src/index.js"
import type { CredentialKind } from "../src/ResolvedCredential.js"

const P = "FCTEST_"

const resolve = (env: Record<string, string>, kind: CredentialKind, prefix = P) =>
  EnvCredentialBackend.make({ prefix }).resolve({ kind }).pipe(
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))
  )

const fieldsOf = (env: Record<string, string>) =>
  Effect.map(resolve(env, "static"), (c) => {
    assert.strictEqual(c.type, "static")
    return c.type === "static" ? Object.fromEntries(Object.entries(c.fields).map(([k, v]) => [k, Redacted.value(v)])) : {}
  })

const oauthOf = (env: Record<string, string>) =>
  Effect.map(resolve({ [`${P}ACCESS_TOKEN`]: "tok", ...env }, "oauth"), (c) => {
    if (c.type !== "oauth") throw new Error("expected oauth")
    return c
  })

describe("EnvCredentialBackend — seed §1.11 (test_env.py)", () => {
  it.effect("keep: FIELDS JSON, static → type static", () =>
    Effect.map(resolve({ [`${P}FIELDS`]: '{"apiKey":"sk-abc"}' }, "static"), (c) => assert.strictEqual(c.type, "static")))

  it.effect("keep: FIELDS secretKey mapped", () =>
    Effect.map(fieldsOf({ [`${P}FIELDS`]: '{"secretKey":"sk_live_xxx"}' }), (f) => assert.strictEqual(f.secretKey, "sk_live_xxx")))

  it.effect("keep: FIELDS with two keys, both present", () =>
    Effect.map(
      fieldsOf({ [`${P}FIELDS`]: '{"keyId":"rz_live_xxx","keySecret":"secret123"}' }),
      (f) => assert.deepStrictEqual(f, { keyId: "rz_live_xxx", keySecret: "secret123" })
    ))

  it.effect("keep: FIELDS not JSON → InvalidCredentialError naming FCTEST_FIELDS", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(resolve({ [`${P}FIELDS`]: "not-json" }, "static"))
      assert.strictEqual(error._tag, "InvalidCredentialError")
      assert.include(error.message, "FCTEST_FIELDS")
      assert.notInclude(error.message, "not-json")
    }))

  it.effect("keep: FIELD_API_KEY and FIELD_SECRET_KEY → API_KEY and SECRET_KEY", () =>
    Effect.map(
      fieldsOf({ [`${P}FIELD_API_KEY`]: "sk-abc", [`${P}FIELD_SECRET_KEY`]: "secret-xyz" }),
      (f) => assert.deepStrictEqual(f, { API_KEY: "sk-abc", SECRET_KEY: "secret-xyz" })
    ))

  it.effect("keep: FIELD_PHONE_NUMBER_ID → PHONE_NUMBER_ID", () =>
    Effect.map(fieldsOf({ [`${P}FIELD_PHONE_NUMBER_ID`]: "1234567890" }), (f) =>
      assert.strictEqual(f.PHONE_NUMBER_ID, "1234567890")))

  it.effect("keep: FIELDS wins over FIELD_*", () =>
    Effect.map(
      fieldsOf({ [`${P}FIELDS`]: '{"apiKey":"from-json"}', [`${P}FIELD_apiKey`]: "from-individual" }),
      (f) => assert.deepStrictEqual(f, { apiKey: "from-json" })
    ))

  it.effect("keep: nothing set, static → MissingCredentialError", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(resolve({}, "static"))
      assert.strictEqual(error._tag, "MissingCredentialError")
      assert.strictEqual(
        error.message,
        "No static credentials found. Set FCTEST_FIELDS (JSON object) or individual FCTEST_FIELD_<name> env vars."
      )
    }))

  it.effect("keep: static credential has no extra and no OAuth fields", () =>
    Effect.map(resolve({ [`${P}FIELDS`]: '{"a":"b"}' }, "static"), (c) => {
      assert.strictEqual(c.type, "static")
      assert.isFalse("extra" in c)
      assert.isFalse("accessToken" in c)
    }))

  it.effect("fix: oauth with nothing set → MissingCredentialError naming FCTEST_ACCESS_TOKEN (seed returned an empty oauth credential)", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(resolve({}, "oauth"))
      assert.strictEqual(error._tag, "MissingCredentialError")
      assert.include(error.message, "FCTEST_ACCESS_TOKEN")
    }))

  it.effect("keep: oauth with an access token → type oauth", () =>
    Effect.map(oauthOf({}), (c) => assert.strictEqual(c.type, "oauth")))

  it.effect("keep: ACCESS_TOKEN, REFRESH_TOKEN, CLIENT_ID, CLIENT_SECRET, TOKEN_URI mapped verbatim", () =>
    Effect.map(
      oauthOf({
        [`${P}ACCESS_TOKEN`]: "at-1",
        [`${P}REFRESH_TOKEN`]: "rt-1",
        [`${P}CLIENT_ID`]: "cid",
        [`${P}CLIENT_SECRET`]: "csec",
        [`${P}TOKEN_URI`]: "https://auth.example/token"
      }),
      (c) => {
        assert.strictEqual(Redacted.value(c.accessToken), "at-1")
        assert.strictEqual(c.refreshToken && Redacted.value(c.refreshToken), "rt-1")
        assert.strictEqual(c.clientId, "cid")
        assert.strictEqual(c.clientSecret && Redacted.value(c.clientSecret), "csec")
        assert.strictEqual(c.tokenUri, "https://auth.example/token")
      }
    ))

  it.effect("keep: SCOPES 'read write admin' → three scopes", () =>
    Effect.map(oauthOf({ [`${P}SCOPES`]: "read write admin" }), (c) => assert.deepStrictEqual(c.scopes, ["read", "write", "admin"])))

  it.effect("keep: SCOPES unset → no scopes", () => Effect.map(oauthOf({}), (c) => assert.isUndefined(c.scopes)))

  it.effect("keep: EXPIRES_AT with offset → set", () =>
    Effect.map(oauthOf({ [`${P}EXPIRES_AT`]: "2026-04-24T12:00:00+00:00" }), (c) =>
      assert.strictEqual(c.expiresAt && DateTime.formatIso(c.expiresAt), "2026-04-24T12:00:00.000Z")))

  it.effect("keep: naive EXPIRES_AT is UTC", () =>
    Effect.map(oauthOf({ [`${P}EXPIRES_AT`]: "2026-04-24T12:00:00" }), (c) =>
      assert.strictEqual(c.expiresAt && DateTime.toEpochMillis(c.expiresAt), Date.UTC(2026, 3, 24, 12))))

  it.effect("keep: EXTRA_DC and EXTRA_WORKSPACE → extra.dc, extra.workspace", () =>
    Effect.map(oauthOf({ [`${P}EXTRA_DC`]: "us10", [`${P}EXTRA_WORKSPACE`]: "ws-prod" }), (c) =>
      assert.deepStrictEqual(c.extra, { dc: "us10", workspace: "ws-prod" })))

  it.effect("keep: EXTRA_MY_FIELD → my_field, not MY_FIELD", () =>
    Effect.map(oauthOf({ [`${P}EXTRA_MY_FIELD`]: "val" }), (c) => {
      assert.strictEqual(c.extra.my_field, "val")
      assert.isFalse("MY_FIELD" in c.extra)
    }))

  it.effect("keep: no EXTRA_ vars → extra {}", () => Effect.map(oauthOf({}), (c) => assert.deepStrictEqual(c.extra, {})))

  it.effect("keep: oauth credential has no static fields", () => Effect.map(oauthOf({}), (c) => assert.isFalse("fields" in c)))

  it("keep: prefix is uppercased", () => assert.strictEqual(EnvCredentialBackend.normalizePrefix("myservice_"), "MYSERVICE_"))

  it("keep: no prefix → empty prefix", () => assert.strictEqual(EnvCredentialBackend.normalizePrefix(undefined), ""))

  it.effect("keep: a lowercase prefix reads uppercased variables", () =>
    Effect.map(
      resolve({ MYSERVICE_FIELD_token: "t" }, "static", "myservice_"),
      (c) => assert.strictEqual(c.type === "static" && Redacted.value(c.fields.token!), "t")
    ))
})

describe("EnvCredentialBackend — seed §1.12", () => {
  it.effect("keep: FIELDS='{}' with FIELD_x → MissingCredentialError, FIELD_ not consulted", () =>
    Effect.map(Effect.flip(resolve({ [`${P}FIELDS`]: "{}", [`${P}FIELD_x`]: "1" }, "static")), (e) =>
      assert.strictEqual(e._tag, "MissingCredentialError")))

  it.effect("fix: FIELDS='[1,2]' (not an object) → InvalidCredentialError, not silently ignored", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(resolve({ [`${P}FIELDS`]: "[1,2]", [`${P}FIELD_a`]: "1" }, "static"))
      assert.strictEqual(e._tag, "InvalidCredentialError")
      assert.include(e.message, "FCTEST_FIELDS")
      assert.include(e.message, "JSON object")
    }))

  it.effect("fix: FIELDS='[1,2]' without FIELD_ vars → InvalidCredentialError", () =>
    Effect.map(Effect.flip(resolve({ [`${P}FIELDS`]: "[1,2]" }, "static")), (e) => assert.strictEqual(e._tag, "InvalidCredentialError")))

  it.effect("keep: FIELDS of white space only → invalid JSON", () =>
    Effect.map(Effect.flip(resolve({ [`${P}FIELDS`]: "   " }, "static")), (e) => {
      assert.strictEqual(e._tag, "InvalidCredentialError")
      assert.include(e.message, "not valid JSON")
    }))

  it.effect("keep: empty FIELDS is unset, FIELD_ vars used", () =>
    Effect.map(fieldsOf({ [`${P}FIELDS`]: "", [`${P}FIELD_a`]: "1" }), (f) => assert.deepStrictEqual(f, { a: "1" })))

  it.effect("keep: FIELD_x='' → a field with an empty value", () =>
    Effect.map(fieldsOf({ [`${P}FIELD_x`]: "" }), (f) => assert.deepStrictEqual(f, { x: "" })))

  it.effect("keep: FIELD_ values verbatim, not trimmed", () =>
    Effect.map(fieldsOf({ [`${P}FIELD_x`]: "  spaced  " }), (f) => assert.strictEqual(f.x, "  spaced  ")))

  it.effect("fix: FIELDS numbers and booleans use JSON spelling (true, 42, 1.5), not Python's", () =>
    Effect.map(fieldsOf({ [`${P}FIELDS`]: '{"count":42,"flag":true,"off":false,"ratio":1.5}' }), (f) =>
      assert.deepStrictEqual(f, { count: "42", flag: "true", off: "false", ratio: "1.5" })))

  it.effect("fix: FIELDS with null, array or object values → InvalidCredentialError naming the field", () =>
    Effect.gen(function*() {
      for (const bad of ['{"n":null}', '{"n":[1]}', '{"n":{"b":1}}']) {
        const e = yield* Effect.flip(resolve({ [`${P}FIELDS`]: bad }, "static"))
        assert.strictEqual(e._tag, "InvalidCredentialError")
        assert.include(e.message, '"n"')
        assert.include(e.message, "FCTEST_FIELDS")
      }
    }))

  it.effect("keep: SCOPES of white space only → no scopes", () =>
    Effect.map(oauthOf({ [`${P}SCOPES`]: " \t " }), (c) => assert.isUndefined(c.scopes)))

  it.effect("keep: SCOPES split on any white space run, commas are not separators", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual((yield* oauthOf({ [`${P}SCOPES`]: "a,b" })).scopes, ["a,b"])
      assert.deepStrictEqual((yield* oauthOf({ [`${P}SCOPES`]: "a\tb\n c" })).scopes, ["a", "b", "c"])
    }))

  it.effect("fix: EXPIRES_AT=garbage → InvalidCredentialError naming the variable (seed raised a bare ValueError)", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(resolve({ [`${P}ACCESS_TOKEN`]: "t", [`${P}EXPIRES_AT`]: "garbage" }, "oauth"))
      assert.strictEqual(e._tag, "InvalidCredentialError")
      assert.include(e.message, "FCTEST_EXPIRES_AT")
      assert.notInclude(e.message, "garbage")
    }))

  it.effect("keep: EXPIRES_AT='' → no expiry", () =>
    Effect.map(oauthOf({ [`${P}EXPIRES_AT`]: "" }), (c) => assert.isUndefined(c.expiresAt)))

  it.effect("keep: ISO-8601 forms accepted like Python fromisoformat", () =>
    Effect.gen(function*() {
      const cases: Array<[string, number]> = [
        ["2026-05-04T12:00:00Z", Date.UTC(2026, 4, 4, 12)],
        ["2026-05-04T12:00:00+0530", Date.UTC(2026, 4, 4, 6, 30)],
        ["2026-05-04T12:00:00-02:00", Date.UTC(2026, 4, 4, 14)],
        ["2026-05-04", Date.UTC(2026, 4, 4)],
        ["2026-05-04 12:00:00", Date.UTC(2026, 4, 4, 12)],
        ["20260504T120000Z", Date.UTC(2026, 4, 4, 12)],
        ["2026-05-04T12:00Z", Date.UTC(2026, 4, 4, 12)],
        ["2026-05-04T12Z", Date.UTC(2026, 4, 4, 12)],
        ["2026-05-04T12:00:00.123456789", Date.UTC(2026, 4, 4, 12, 0, 0, 123)]
      ]
      for (const [raw, millis] of cases) {
        const c = yield* oauthOf({ [`${P}EXPIRES_AT`]: raw })
        assert.strictEqual(c.expiresAt && DateTime.toEpochMillis(c.expiresAt), millis, raw)
      }
    }))

  it.effect("fix: ISO week dates and each part's own format, like Python fromisoformat (figures from Python 3.11)", () =>
    Effect.gen(function*() {
      const accepted: Array<[string, number]> = [
        ["2026-W18-1", 1777248000000],
        ["2026W181", 1777248000000],
        ["2026-W18", 1777248000000],
        ["2026W18", 1777248000000],
        ["2026-W53-1", 1798416000000],
        ["2020-W53-7", 1609632000000],
        ["2026-W01-1", 1766966400000],
        ["2027-W01-1", 1799020800000],
        ["2026-W18-1T12:00:00Z", 1777291200000],
        ["2026W181T120000", 1777291200000],
        ["2026-W18-1 12:00", 1777291200000],
        ["20260504T12:00", 1777896000000],
        ["2026-05-04T1200", 1777896000000],
        ["20260504T120000.5+05:30", 1777876200500]
      ]
      for (const [raw, millis] of accepted) {
        const c = yield* oauthOf({ [`${P}EXPIRES_AT`]: raw })
        assert.strictEqual(c.expiresAt && DateTime.toEpochMillis(c.expiresAt), millis, raw)
      }
      const refused = [
        "2025-W53-1", "2026-W00-1", "2026-W18-8", "2026-W18-0", "2026-W181", "2026W18-1",
        "2026-0504", "202605-04", "2026-05-04T12:0000", "2026-05-04T1200:00"
      ]
      for (const raw of refused) {
        const r = yield* Effect.either(resolve({ [`${P}ACCESS_TOKEN`]: "t", [`${P}EXPIRES_AT`]: raw }, "oauth"))
        assert.isTrue(Either.isLeft(r), raw)
      }
    }))

  it.effect("keep: ISO-8601 forms refused like Python fromisoformat (space around, lowercase z, epoch, hour 24)", () =>
    Effect.gen(function*() {
      for (const raw of [" 2026-05-04T12:00:00Z", "2026-05-04T12:00:00Z ", "2026-05-04T12:00:00z", "1714824000", "2026-05-04T24:00:00", "2026-02-30"]) {
        const r = yield* Effect.either(resolve({ [`${P}ACCESS_TOKEN`]: "t", [`${P}EXPIRES_AT`]: raw }, "oauth"))
        assert.isTrue(Either.isLeft(r), raw)
      }
    }))

  it.effect("fix: a year below 100 is that year, as for Python (Date.UTC read 0050 as 1950); year 0 is refused", () =>
    Effect.gen(function*() {
      const c = yield* oauthOf({ [`${P}EXPIRES_AT`]: "0050-06-01T00:00:00Z" })
      assert.strictEqual(DateTime.toDateUtc(c.expiresAt!).toISOString(), "0050-06-01T00:00:00.000Z")
      const leap = yield* oauthOf({ [`${P}EXPIRES_AT`]: "0004-02-29" })
      assert.strictEqual(DateTime.toDateUtc(leap.expiresAt!).toISOString(), "0004-02-29T00:00:00.000Z")
      const r = yield* Effect.either(resolve({ [`${P}ACCESS_TOKEN`]: "t", [`${P}EXPIRES_AT`]: "0000-01-01" }, "oauth"))
      assert.isTrue(Either.isLeft(r))
    }))

  it.effect("fix: an empty ACCESS_TOKEN is missing, not an empty token", () =>
    Effect.map(Effect.flip(resolve({ [`${P}ACCESS_TOKEN`]: "" }, "oauth")), (e) => assert.strictEqual(e._tag, "MissingCredentialError")))

  it.effect("keep: an empty prefix reads FIELD_ and EXTRA_ without prefix", () =>
    Effect.map(resolve({ FIELD_k: "v" }, "static", ""), (c) => assert.strictEqual(c.type === "static" && Redacted.value(c.fields.k!), "v")))
})

describe("EnvCredentialBackend — process.env and layers", () => {
  it.effect("a new FIELD_ name in process.env is seen once the names TTL has passed (TestClock)", () =>
    Effect.gen(function*() {
      const backend = EnvCredentialBackend.make({ prefix: "MCPCRED_TTL_" })
      process.env.MCPCRED_TTL_FIELD_a = "1"
      try {
        const first = yield* backend.resolve({ kind: "static" })
        process.env.MCPCRED_TTL_FIELD_b = "2"
        process.env.MCPCRED_TTL_FIELD_a = "rotated"
        const cached = yield* backend.resolve({ kind: "static" })
        yield* TestClock.adjust("1 second")
        const relisted = yield* backend.resolve({ kind: "static" })
        const names = (c: typeof first) => (c.type === "static" ? Object.keys(c.fields).sort() : [])
        assert.deepStrictEqual(names(first), ["a"])
        assert.deepStrictEqual(names(cached), ["a"])
        assert.strictEqual(cached.type === "static" && Redacted.value(cached.fields.a!), "rotated") // values are fresh
        assert.deepStrictEqual(names(relisted), ["a", "b"])
      } finally {
        delete process.env.MCPCRED_TTL_FIELD_a
        delete process.env.MCPCRED_TTL_FIELD_b
      }
    }))

  it.effect("keep: reads process.env on every call (rotation needs no restart), names case kept", () =>
    Effect.gen(function*() {
      const backend = EnvCredentialBackend.make({ prefix: "MCPCRED_ROTATE_" })
      process.env.MCPCRED_ROTATE_FIELD_apiKey = "first"
      try {
        const a = yield* backend.resolve({ kind: "static" })
        process.env.MCPCRED_ROTATE_FIELD_apiKey = "second"
        const b = yield* backend.resolve({ kind: "static" })
        assert.strictEqual(a.type === "static" && Redacted.value(a.fields.apiKey!), "first")
        assert.strictEqual(b.type === "static" && Redacted.value(b.fields.apiKey!), "second")
      } finally {
        delete process.env.MCPCRED_ROTATE_FIELD_apiKey
      }
    }))

  it.effect("layer: provided as CredentialBackend", () =>
    Effect.gen(function*() {
      const c = yield* CredentialBackend.resolve({ kind: "static" })
      assert.strictEqual(c.type, "static")
    }).pipe(
      Effect.provide(EnvCredentialBackend.layer({ prefix: "SVC_" })),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["SVC_FIELDS", '{"apiKey":"sk-1"}']])))
    ))

  it.effect("layerConfig: prefix from Config", () =>
    Effect.gen(function*() {
      const c = yield* CredentialBackend.resolve({ kind: "static" })
      assert.strictEqual(c.type === "static" && Redacted.value(c.fields.k!), "v")
    }).pipe(
      Effect.provide(EnvCredentialBackend.layerConfig({ prefix: Config.string("CRED_PREFIX") })),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["CRED_PREFIX", "gh_"], ["GH_FIELD_k", "v"]])))
    ))
})


describe("EnvCredentialBackend — unsafeResolve (the server's call path without a fiber)", () => {
  const services = FiberRef.get(DefaultServices.currentServices)

  /** What a resolution gives, comparable across the two paths (values included: test data only). */
  const outcome = (e: Either.Either<ResolvedCredential.ResolvedCredential, { _tag: string; message: string }>) =>
    Either.isLeft(e) ? { error: e.left._tag, message: e.left.message } : {
      type: e.right.type,
      secrets: ResolvedCredential.secretValues(e.right),
      json: JSON.stringify(e.right)
    }

  const cases: ReadonlyArray<readonly [string, CredentialKind, Record<string, string>]> = [
    ["FIELDS", "static", { FIELDS: '{"apiKey":"sk-abc","other":"x-1"}' }],
    ["FIELDS not JSON", "static", { FIELDS: "not-json" }],
    ["FIELDS empty object", "static", { FIELDS: "{}" }],
    ["FIELD_*", "static", { FIELD_API_KEY: "sk-abc", FIELD_secret: "s-2" }],
    ["FIELDS wins over FIELD_*", "static", { FIELDS: '{"apiKey":"j"}', FIELD_apiKey: "i" }],
    ["nothing", "static", {}],
    ["oauth, all variables", "oauth", {
      ACCESS_TOKEN: "at-1",
      REFRESH_TOKEN: "rt-1",
      CLIENT_ID: "cid",
      CLIENT_SECRET: "cs-1",
      TOKEN_URI: "https://idp.example/token",
      SCOPES: "repo read:org",
      EXPIRES_AT: "2026-05-04T12:00:00Z",
      EXTRA_TEAM: "core"
    }],
    ["oauth, bad EXPIRES_AT", "oauth", { ACCESS_TOKEN: "at-1", EXPIRES_AT: "tomorrow" }],
    ["oauth, no ACCESS_TOKEN", "oauth", { REFRESH_TOKEN: "rt-1" }]
  ]

  const withEnv = <A, E, R>(prefix: string, vars: Record<string, string>, self: Effect.Effect<A, E, R>) =>
    Effect.acquireUseRelease(
      Effect.sync(() => {
        for (const [k, v] of Object.entries(vars)) process.env[`${prefix}${k}`] = v
      }),
      () => self,
      () =>
        Effect.sync(() => {
          for (const k of Object.keys(vars)) delete process.env[`${prefix}${k}`]
        })
    )

  const accepted = new Set(["FIELDS", "FIELD_*", "FIELDS wins over FIELD_*", "oauth, all variables"])
  cases.forEach(([name, kind, vars], i) =>
    it.effect(`the same outcome as resolve: ${name}`, () => {
      const prefix = `MCPCRED_SYNC_${process.pid}_${i}_`
      return withEnv(
        prefix,
        vars,
        Effect.gen(function*() {
          const backend = EnvCredentialBackend.make({ prefix })
          const viaEffect = yield* Effect.either(backend.resolve({ kind }))
          const viaSync = backend.unsafeResolve!({ kind }, yield* services)
          assert.isDefined(viaSync)
          assert.deepStrictEqual(outcome(viaSync!), outcome(viaEffect))
          assert.strictEqual(Either.isRight(viaSync!), accepted.has(name))
        })
      )
    })
  )

  it.effect("unchanged variables give back the same fields, in a new credential per call; a rotated value, new fields", () => {
    const prefix = `MCPCRED_MEMO_${process.pid}_`
    return withEnv(
      prefix,
      { FIELD_apiKey: "first", FIELD_b: "b" },
      Effect.gen(function*() {
        const backend = EnvCredentialBackend.make({ prefix })
        const s = yield* services
        const a1 = backend.unsafeResolve!({ kind: "static" }, s)!
        const a2 = yield* backend.resolve({ kind: "static" })
        assert.isTrue(Either.isRight(a1))
        // each call its own credential (its own Redacted values), with the same fields
        assert.notStrictEqual(Either.getOrThrow(a1), a2)
        assert.deepStrictEqual(ResolvedCredential.secretValues(Either.getOrThrow(a1)), ResolvedCredential.secretValues(a2))
        process.env[`${prefix}FIELD_apiKey`] = "second"
        const b = Either.getOrThrow(backend.unsafeResolve!({ kind: "static" }, s)!)
        assert.notStrictEqual(b, a2)
        assert.strictEqual(b.type === "static" && Redacted.value(b.fields.apiKey!), "second")
        // FIELDS JSON: the same text, the same credential
        process.env[`${prefix}FIELDS`] = '{"k":"v-1"}'
        const j1 = Either.getOrThrow(backend.unsafeResolve!({ kind: "static" }, s)!)
        const j2 = Either.getOrThrow(backend.unsafeResolve!({ kind: "static" }, s)!)
        assert.notStrictEqual(j1, j2)
        assert.deepStrictEqual(ResolvedCredential.secretValues(j1), ["v-1"])
        assert.deepStrictEqual(ResolvedCredential.secretValues(j2), ["v-1"])
        delete process.env[`${prefix}FIELDS`]
      })
    )
  })

  it.effect("fix: a call that wipes its credential (Redacted.unsafeWipe) leaves the others' intact, also one resolved before", () => {
    const prefix = `MCPCRED_WIPE_${process.pid}_`
    return withEnv(
      prefix,
      { FIELD_apiKey: "kept-value" },
      Effect.gen(function*() {
        const backend = EnvCredentialBackend.make({ prefix })
        const s = yield* services
        const first = Either.getOrThrow(backend.unsafeResolve!({ kind: "static" }, s)!)
        const concurrent = Either.getOrThrow(backend.unsafeResolve!({ kind: "static" }, s)!)
        assert.isTrue(first.type === "static" && Redacted.unsafeWipe(first.fields.apiKey!))
        assert.strictEqual(concurrent.type === "static" && Redacted.value(concurrent.fields.apiKey!), "kept-value")
        const next = Either.getOrThrow(backend.unsafeResolve!({ kind: "static" }, s)!)
        assert.notStrictEqual(next, first)
        assert.strictEqual(next.type === "static" && Redacted.value(next.fields.apiKey!), "kept-value")
        const viaEffect = yield* backend.resolve({ kind: "static" })
        assert.strictEqual(viaEffect.type === "static" && Redacted.value(viaEffect.fields.apiKey!), "kept-value")
      })
    )
  })

  it.effect("another ConfigProvider: no synchronous answer (resolve reads it)", () =>
    Effect.gen(function*() {
      const backend = EnvCredentialBackend.make({ prefix: "CP_" })
      const s = yield* services
      assert.isUndefined(backend.unsafeResolve!({ kind: "static" }, s))
      const c = yield* backend.resolve({ kind: "static" })
      assert.strictEqual(c.type === "static" && Redacted.value(c.fields.k!), "v")
    }).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["CP_FIELD_k", "v"]])))))

  it.effect("the names TTL follows the runtime's Clock (TestClock)", () => {
    const prefix = `MCPCRED_SYNCTTL_${process.pid}_`
    return withEnv(
      prefix,
      { FIELD_a: "1" },
      Effect.gen(function*() {
        const backend = EnvCredentialBackend.make({ prefix })
        const s = yield* services
        const names = () => {
          const c = Either.getOrThrow(backend.unsafeResolve!({ kind: "static" }, s)!)
          return c.type === "static" ? Object.keys(c.fields).sort() : []
        }
        assert.deepStrictEqual(names(), ["a"])
        process.env[`${prefix}FIELD_b`] = "2"
        yield* TestClock.adjust("999 millis")
        assert.deepStrictEqual(names(), ["a"]) // listed less than namesTtl ago
        yield* TestClock.adjust("1 millis")
        assert.deepStrictEqual(names(), ["a", "b"])
        delete process.env[`${prefix}FIELD_b`]
      })
    )
  })
})

describe("EnvCredentialBackend — keys and numbers that would be lost", () => {
  it.effect("fix: a __proto__ key or field is refused or ignored, never silently dropped into the prototype", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(resolve({ [`${P}FIELDS`]: '{"__proto__":"x","apiKey":"k"}' }, "static"))
      assert.strictEqual(e._tag, "InvalidCredentialError")
      assert.include(e.message, "__proto__")
      assert.notInclude(e.message, '"x"')
      // FIELD___proto__ is no field: alone, nothing is configured
      const missing = yield* Effect.flip(resolve({ [`${P}FIELD___proto__`]: "x" }, "static"))
      assert.strictEqual(missing._tag, "MissingCredentialError")
      assert.deepStrictEqual(yield* fieldsOf({ [`${P}FIELD___proto__`]: "x", [`${P}FIELD_a`]: "1" }), { a: "1" })
      const c = yield* oauthOf({ [`${P}EXTRA___PROTO__`]: "x", [`${P}EXTRA_REGION`]: "eu" })
      assert.deepStrictEqual(Object.keys(c.extra), ["region"])
      assert.strictEqual(Object.getPrototypeOf(c.extra), Object.prototype)
    }))

  it.effect("fix: an integer past 2^53 in FIELDS is refused (JSON.parse changed its digits), not silently altered", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(resolve({ [`${P}FIELDS`]: '{"accountId":12345678901234567891}' }, "static"))
      assert.strictEqual(e._tag, "InvalidCredentialError")
      assert.include(e.message, "accountId")
      assert.include(e.message, "write it as a string")
      // a number past the range of a double (JSON.parse makes it Infinity): refused, not "null"
      for (const n of ["1e400", "-1e999"]) {
        const big = yield* Effect.flip(resolve({ [`${P}FIELDS`]: `{"apiKey":${n}}` }, "static"))
        assert.strictEqual(big._tag, "InvalidCredentialError", n)
        assert.include(big.message, "apiKey")
      }
      assert.deepStrictEqual(yield* fieldsOf({ [`${P}FIELDS`]: '{"accountId":"12345678901234567891","n":9007199254740991,"x":1.5}' }), {
        accountId: "12345678901234567891",
        n: "9007199254740991",
        x: "1.5"
      })
    }))
})
