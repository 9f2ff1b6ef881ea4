import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Redacted, Schema, TestClock } from "effect"
import { inspect } from "node:util"
import { CredentialError, ResolvedCredential } from "../src/index.js"

const { OAuthCredential, StaticCredential } = ResolvedCredential
const token = (expiresAt?: number) =>
  new OAuthCredential({
    type: "oauth",
    accessToken: Redacted.make("tok-secret-1"),
    ...(expiresAt !== undefined ? { expiresAt: DateTime.unsafeMake(expiresAt) } : {})
  })
const NOW = Date.UTC(2026, 10, 23, 12)
const atNow = <A>(f: () => Effect.Effect<A>) => Effect.zipRight(TestClock.setTime(NOW), Effect.suspend(f))

describe("ResolvedCredential — seed §1.11 (test_types.py)", () => {
  it.effect("keep: no expiry → not expired", () => atNow(() => Effect.map(ResolvedCredential.isExpired(token()), (b) => assert.isFalse(b))))
  it.effect("keep: now + 1 h → not expired", () =>
    atNow(() => Effect.map(ResolvedCredential.isExpired(token(NOW + 3_600_000)), (b) => assert.isFalse(b))))
  it.effect("keep: now − 1 s → expired", () =>
    atNow(() => Effect.map(ResolvedCredential.isExpired(token(NOW - 1_000)), (b) => assert.isTrue(b))))
  it.effect("keep: now + 59 s → expired (60 s margin)", () =>
    atNow(() => Effect.map(ResolvedCredential.isExpired(token(NOW + 59_000)), (b) => assert.isTrue(b))))
  it.effect("keep: now + 61 s → not expired", () =>
    atNow(() => Effect.map(ResolvedCredential.isExpired(token(NOW + 61_000)), (b) => assert.isFalse(b))))
  it.effect("keep: exactly 60 s from expiry counts as expired", () =>
    atNow(() => Effect.map(ResolvedCredential.isExpired(token(NOW + 60_000)), (b) => assert.isTrue(b))))
  it.effect("keep: 2000-01-01 → expired", () =>
    atNow(() => Effect.map(ResolvedCredential.isExpired(token(Date.UTC(2000, 0, 1))), (b) => assert.isTrue(b))))
  it.effect("keep: the margin is configurable", () =>
    atNow(() =>
      Effect.gen(function*() {
        assert.isFalse(yield* ResolvedCredential.isExpired(token(NOW + 30_000), { margin: "10 seconds" }))
        assert.isTrue(yield* ResolvedCredential.isExpired(token(NOW + 30_000), { margin: "1 minute" }))
      })))
  it.effect("keep: TestClock drives expiry", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW)
      const c = token(NOW + 120_000)
      assert.isFalse(yield* ResolvedCredential.isExpired(c))
      yield* TestClock.adjust("61 seconds")
      assert.isTrue(yield* ResolvedCredential.isExpired(c))
    }))
  it("keep: static credentials never expire", () => assert.isFalse(ResolvedCredential.isExpiredAt(StaticCredential.fromFields({ a: "b" }), NOW)))

  it("keep: CredentialNotFoundError message contains the id", () =>
    assert.strictEqual(new CredentialError.CredentialNotFoundError({ credential: "cred-1" }).message, "Credential not found: 'cred-1'"))
  it("keep: CredentialNotFoundError stores the id", () =>
    assert.strictEqual(new CredentialError.CredentialNotFoundError({ credential: "cred-1" }).credential, "cred-1"))
  it("keep: CredentialNotFoundError is a CredentialError", () =>
    assert.isTrue(CredentialError.isCredentialError(new CredentialError.CredentialNotFoundError({ credential: "x" }))))
  it("keep: every credential error is an Error and a CredentialError", () => {
    const errors = [
      new CredentialError.MissingCredentialError({ kind: "static", variables: ["FIELDS", "FIELD_<name>"] }),
      new CredentialError.InvalidCredentialError({ variable: "X", reason: "bad." }),
      new CredentialError.MissingCredentialHeaderError({ headers: ["X-MCP-Cred-Fields"] }),
      new CredentialError.InvalidCredentialHeaderError({ header: "X-MCP-Cred-Fields", reason: "bad." }),
      new CredentialError.UntrustedGatewayError({ reason: "no." }),
      new CredentialError.NoCredentialInScopeError({ credential: "default" }),
      new CredentialError.CredentialNotFoundError({ credential: "x" })
    ]
    for (const e of errors) {
      assert.instanceOf(e, Error)
      assert.isTrue(CredentialError.isCredentialError(e))
    }
    assert.isFalse(CredentialError.isCredentialError(new Error("x")))
  })
  it("keep: extra defaults to {}", () => assert.deepStrictEqual(token().extra, {}))
  it("keep: every OAuth field but the token defaults to absent", () => {
    const c = token()
    for (const k of ["refreshToken", "clientId", "clientSecret", "tokenUri", "scopes", "expiresAt"] as const) {
      assert.isUndefined(c[k], k)
    }
  })
  it("keep: fields of a static credential built with none is {}", () =>
    assert.deepStrictEqual(StaticCredential.fromFields({}).fields, {}))
  it("keep: fields are not shared between instances", () => {
    const a = StaticCredential.fromFields({}), b = StaticCredential.fromFields({})
    assert.notStrictEqual(a.fields, b.fields)
  })
  it("keep: extra is not shared between instances", () => assert.notStrictEqual(token().extra, token().extra))
  it("fix: an own __proto__ key (JSON.parse makes one) stays a field, not the fields object's prototype", () => {
    const c = StaticCredential.fromFields(JSON.parse('{"__proto__":"x-proto-value","apiKey":"k"}'))
    assert.strictEqual(Object.getPrototypeOf(c.fields), Object.prototype)
    assert.deepStrictEqual(Object.keys(c.fields), ["__proto__", "apiKey"])
    assert.strictEqual(Redacted.value(Object.getOwnPropertyDescriptor(c.fields, "__proto__")!.value), "x-proto-value")
    assert.include(JSON.stringify(c), '"apiKey":"<redacted>"')
  })
  it("fromFields builds what the class constructor builds (without going through it)", () => {
    for (const fields of [{}, { apiKey: "sk-1" }, { apiKey: "sk-1", user: "bob", "x-y": "" }]) {
      const made = StaticCredential.fromFields(fields)
      const constructed = new StaticCredential({ type: "static", fields: made.fields })
      assert.instanceOf(made, StaticCredential)
      assert.deepStrictEqual(Object.keys(made), Object.keys(constructed))
      assert.isTrue(Schema.is(StaticCredential)(made))
      assert.isTrue(Schema.is(ResolvedCredential.ResolvedCredential)(made))
      assert.deepStrictEqual(Schema.encodeSync(StaticCredential)(made), Schema.encodeSync(StaticCredential)(constructed))
      assert.deepStrictEqual(Schema.encodeSync(StaticCredential)(made).fields, fields)
      assert.strictEqual(inspect(made), inspect(constructed))
      assert.strictEqual(JSON.stringify(made), JSON.stringify(constructed))
      assert.strictEqual(String(made), String(constructed))
    }
  })
})

describe("ResolvedCredential — secrets are redacted", () => {
  const oauth = new OAuthCredential({
    type: "oauth",
    accessToken: Redacted.make("at-CANARY"),
    refreshToken: Redacted.make("rt-CANARY"),
    clientId: "client-1",
    clientSecret: Redacted.make("cs-CANARY"),
    scopes: ["read"],
    extra: { dc: "us10" }
  })
  const stat = StaticCredential.fromFields({ apiKey: "sk-CANARY" })
  for (const [name, c] of [["oauth", oauth], ["static", stat]] as const) {
    it(`${name}: String, JSON.stringify and util.inspect show no secret`, () => {
      for (const shown of [String(c), JSON.stringify(c), inspect(c, { depth: 10 }), `${c}`]) {
        assert.notInclude(shown, "CANARY")
        assert.include(shown, "redacted")
      }
    })
  }
  it("secretValues lists every secret for scrubbers", () => {
    assert.deepStrictEqual([...ResolvedCredential.secretValues(oauth)].sort(), ["at-CANARY", "cs-CANARY", "rt-CANARY"])
    assert.deepStrictEqual(ResolvedCredential.secretValues(stat), ["sk-CANARY"])
  })
  it("schema round trip: decodes from plain JSON into Redacted values", () => {
    const decoded = Schema.decodeUnknownSync(ResolvedCredential.ResolvedCredential)({
      type: "oauth",
      accessToken: "at",
      expiresAt: "2026-05-04T12:00:00.000Z"
    })
    assert.strictEqual(decoded.type, "oauth")
    assert.isTrue(decoded.type === "oauth" && Redacted.isRedacted(decoded.accessToken))
    assert.deepStrictEqual(decoded.type === "oauth" && decoded.extra, {})
    const encoded = Schema.encodeSync(ResolvedCredential.ResolvedCredential)(decoded)
    assert.deepStrictEqual(encoded, { type: "oauth", accessToken: "at", expiresAt: "2026-05-04T12:00:00.000Z", extra: {} })
  })
})
