import { ResolvedCredential } from "@mcp-credentials/core"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Either, Option, PubSub, Redacted, Schema } from "effect"
import { Keyring } from "../src/index.js"
import {
  awaitResult,
  credentialAad,
  decodeCredentialRecordFast,
  decodeCredentialRecordSchema,
  openCredential,
  sealCredential
} from "../src/internal/records.js"

const ring = Keyring.make([{ id: "main", key: Redacted.make(new Uint8Array(32).fill(7)) }])
const key = { provider: "jira", subject: "alice" }
const encode = Schema.encodeSync(ResolvedCredential.ResolvedCredential)

/** Records as the store has always written them (the format must stay readable). */
const records: ReadonlyArray<[string, unknown]> = [
  ["static", { credential: { type: "static", fields: { pat: "p-1", other: "o" } }, createdAt: 1, expiresAt: null }],
  ["static, no fields", { credential: { type: "static", fields: {} }, createdAt: 1, expiresAt: 5 }],
  ["static, extra keys", { credential: { type: "static", fields: { a: "1" }, x: 1 }, createdAt: 1, expiresAt: null, y: 2 }],
  ["oauth, minimal", { credential: { type: "oauth", accessToken: "at" }, createdAt: 2, expiresAt: null }],
  ["oauth, full", {
    credential: {
      type: "oauth",
      accessToken: "at",
      refreshToken: "rt",
      clientId: "cid",
      clientSecret: "cs",
      tokenUri: "https://x/token",
      scopes: ["a", "b"],
      expiresAt: "2026-11-23T12:00:00.000Z",
      extra: { dc: "eu", n: 1, nested: { a: [1] } }
    },
    createdAt: 3,
    expiresAt: 4
  }],
  ["oauth, short date", { credential: { type: "oauth", accessToken: "at", expiresAt: "2026-01-01" }, createdAt: 1, expiresAt: null }],
  // not valid: the hot path must reject exactly what the Schema rejects
  ["no type", { credential: { fields: {} }, createdAt: 1, expiresAt: null }],
  ["unknown type", { credential: { type: "basic", fields: {} }, createdAt: 1, expiresAt: null }],
  ["field not a string", { credential: { type: "static", fields: { a: 1 } }, createdAt: 1, expiresAt: null }],
  ["fields an array", { credential: { type: "static", fields: ["a"] }, createdAt: 1, expiresAt: null }],
  ["fields missing", { credential: { type: "static" }, createdAt: 1, expiresAt: null }],
  ["access token not a string", { credential: { type: "oauth", accessToken: 1 }, createdAt: 1, expiresAt: null }],
  ["scope not a string", { credential: { type: "oauth", accessToken: "a", scopes: [1] }, createdAt: 1, expiresAt: null }],
  ["bad date", { credential: { type: "oauth", accessToken: "a", expiresAt: "garbage" }, createdAt: 1, expiresAt: null }],
  ["extra null", { credential: { type: "oauth", accessToken: "a", extra: null }, createdAt: 1, expiresAt: null }],
  ["refresh token null", { credential: { type: "oauth", accessToken: "a", refreshToken: null }, createdAt: 1, expiresAt: null }],
  ["createdAt a string", { credential: { type: "static", fields: {} }, createdAt: "1", expiresAt: null }],
  ["expiresAt missing", { credential: { type: "static", fields: {} }, createdAt: 1 }],
  ["credential null", { credential: null, createdAt: 1, expiresAt: null }],
  ["an array", [1]],
  ["null", null],
  ["__proto__ field", JSON.parse(`{"credential":{"type":"static","fields":{"__proto__":"x"}},"createdAt":1,"expiresAt":null}`)]
]

describe("records", () => {
  it("the hot-path decoder agrees with the Schema on every record shape", () => {
    for (const [name, record] of records) {
      const fast = decodeCredentialRecordFast(record)
      const schema = decodeCredentialRecordSchema(record)
      assert.strictEqual(Either.isRight(fast), Either.isRight(schema), name)
      if (Either.isRight(fast) && Either.isRight(schema)) {
        const a = fast.right
        const b = schema.right
        assert.strictEqual(a.credential.constructor, b.credential.constructor, name)
        assert.deepStrictEqual(Object.keys(a.credential), Object.keys(b.credential), name)
        assert.deepStrictEqual(encode(a.credential), encode(b.credential), name)
        assert.deepStrictEqual([a.createdAt, a.expiresAt], [b.createdAt, b.expiresAt], name)
        if (a.credential.type === "static") {
          for (const v of Object.values(a.credential.fields)) assert.isTrue(Redacted.isRedacted(v), name)
        } else {
          assert.isTrue(Redacted.isRedacted(a.credential.accessToken), name)
          assert.isTrue(a.credential.expiresAt === undefined || DateTime.isUtc(a.credential.expiresAt), name)
        }
      }
    }
  })

  it.effect("opens records sealed in the stored format, secrets Redacted", () =>
    Effect.gen(function*() {
      const cred = new ResolvedCredential.OAuthCredential({
        type: "oauth",
        accessToken: Redacted.make("at"),
        refreshToken: Redacted.make("rt"),
        expiresAt: DateTime.unsafeMake("2026-11-23T12:00:00.000Z"),
        extra: { dc: "eu" }
      })
      // written the way the store has always written it
      const sealed = ring.seal(JSON.stringify({ credential: encode(cred), createdAt: 10, expiresAt: 20 }), credentialAad(key))
      const stored = yield* openCredential(ring, key, sealed, 3)
      assert.deepStrictEqual(encode(stored.credential), encode(cred))
      assert.isTrue(stored.credential.type === "oauth" && Redacted.isRedacted(stored.credential.accessToken))
      assert.strictEqual(DateTime.toEpochMillis(stored.createdAt), 10)
      assert.deepStrictEqual(Option.map(stored.expiresAt, DateTime.toEpochMillis), Option.some(20))
      assert.strictEqual(stored.generation, 3)
      const again = yield* openCredential(ring, key, sealCredential(ring, key, cred, 10, null), 1)
      assert.deepStrictEqual(encode(again.credential), encode(cred))
      assert.isTrue(Option.isNone(again.expiresAt))
    }))

  it.effect("a tampered, misaddressed or malformed record fails with DecryptionError", () =>
    Effect.gen(function*() {
      const sealed = sealCredential(ring, key, ResolvedCredential.StaticCredential.fromFields({ pat: "p" }), 1, null)
      const last = sealed.at(-2) === "A" ? "B" : "A"
      const tampered = sealed.slice(0, -2) + last + sealed.at(-1)
      const e1 = yield* Effect.flip(openCredential(ring, key, tampered, 1))
      assert.strictEqual(e1._tag, "DecryptionError")
      const e2 = yield* Effect.flip(openCredential(ring, { provider: "jira", subject: "bob" }, sealed, 1))
      assert.strictEqual(e2._tag, "DecryptionError")
      for (const plaintext of ["not json", "{}", JSON.stringify({ credential: { type: "static", fields: { a: 1 } }, createdAt: 1, expiresAt: null })]) {
        const e = yield* Effect.flip(openCredential(ring, key, ring.seal(plaintext, credentialAad(key)), 1))
        assert.strictEqual(e._tag, "DecryptionError")
        assert.strictEqual(e.keyId, "main")
        assert.strictEqual(e.reason, "the decrypted record is not valid")
      }
    }))
})

describe("awaitResult", () => {
  it.live("fix: a take slower than the timeout still returns what it took (the limit is on the waits; a result taken was lost)", () =>
    Effect.gen(function*() {
      const wakeups = yield* PubSub.unbounded<string>()
      let takes = 0
      const slowTake = Effect.as(Effect.sleep("60 millis"), Option.some({ status: "ready" })).pipe(Effect.tap(() => Effect.sync(() => takes++)))
      const got = yield* awaitResult({ id: "x", wakeups, take: slowTake, timeout: "10 millis", pollInterval: "5 millis" })
      assert.deepStrictEqual(got, Option.some({ status: "ready" }))
      assert.strictEqual(takes, 1)
      // nothing there: None once the time is up, after at least one take
      let empty = 0
      const none = yield* awaitResult({
        id: "y",
        wakeups,
        take: Effect.sync(() => (empty++, Option.none())),
        timeout: "30 millis",
        pollInterval: "5 millis"
      })
      assert.isTrue(Option.isNone(none))
      assert.isAtLeast(empty, 2)
    }))
})
