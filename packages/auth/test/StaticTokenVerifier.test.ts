import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Redacted, TestClock } from "effect"
import { inspect } from "node:util"
import { AccessToken, StaticTokenVerifier, TokenVerifier } from "../src/index.js"
import { assertInvalid, NOW, refusal } from "./helpers.js"

/** The FastMCP seed's example, `valid_tokens` → metadata. */
const seedTokens = StaticTokenVerifier.entriesFromRecord({
  "admin-token-123": { clientId: "admin", scopes: ["read", "write", "admin"], claims: { role: "administrator" } },
  "user-token-456": { clientId: "user1", scopes: ["read", "write"], claims: { role: "user" } },
  "readonly-token-789": { clientId: "readonly", scopes: ["read"], claims: { role: "readonly" } }
})

const verify = (token: string) => TokenVerifier.verify(Redacted.make(token))

describe("StaticTokenVerifier — FastMCP seed 002", () => {
  it.layer(StaticTokenVerifier.layer({ tokens: seedTokens }))("seed tokens", (it) => {
    it.effect("keep: each token maps to its user, scopes and metadata", () =>
      Effect.gen(function*() {
        const admin = yield* verify("admin-token-123")
        assert.strictEqual(admin.clientId, "admin")
        assert.deepStrictEqual(admin.scopes, ["read", "write", "admin"])
        assert.strictEqual(admin.claims.role, "administrator")
        const ro = yield* verify("readonly-token-789")
        assert.isTrue(AccessToken.hasScope(ro, "read"))
        assert.isFalse(AccessToken.hasScope(ro, "write"))
      }))

    it.effect("keep: an unknown token is refused (unknown token); an empty one is missing", () =>
      Effect.gen(function*() {
        assertInvalid(yield* refusal(verify("admin-token-12")), "unknown token")
        assertInvalid(yield* refusal(verify("admin-token-1234")), "unknown token")
        assert.strictEqual((yield* refusal(verify("")))._tag, "MissingTokenError")
      }))

    it.effect("fix: every accepted token has an expiry, so the SDK's bearer check accepts it", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW * 1000)
        const token = yield* verify("user-token-456")
        const info = AccessToken.toAuthInfo(token)
        assert.isNumber(info.expiresAt)
        assert.isAbove(info.expiresAt!, NOW)
        assert.strictEqual(info.expiresAt, NOW + 24 * 3600)
      }))
  })

  it.effect("fix: the subject is the `sub` claim unless given (the vault's per-user credentials need it; it was undefined)", () =>
    Effect.gen(function*() {
      const make = StaticTokenVerifier.make({
        tokens: [
          { token: Redacted.make("svc-token-0001"), claims: { sub: "svc" } },
          { token: Redacted.make("svc-token-0002"), subject: "given", claims: { sub: "svc" } },
          { token: Redacted.make("svc-token-0003"), claims: { sub: 42 } }
        ]
      })
      const verifier = yield* make
      assert.strictEqual((yield* verifier.verify(Redacted.make("svc-token-0001"))).subject, "svc")
      assert.strictEqual((yield* verifier.verify(Redacted.make("svc-token-0002"))).subject, "given")
      assert.isUndefined((yield* verifier.verify(Redacted.make("svc-token-0003"))).subject)
    }))

  it.effect("a fixed expiresAt is honoured: past it the token is refused as expired", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const v = yield* StaticTokenVerifier.make({
        tokens: [{ token: Redacted.make("t"), clientId: "c", expiresAt: DateTime.unsafeMake((NOW + 60) * 1000) }],
        expiryHorizon: "1 hour"
      })
      const ok = yield* v.verify(Redacted.make("t"))
      assert.strictEqual(DateTime.toEpochMillis(ok.expiresAt!), (NOW + 60) * 1000)
      yield* TestClock.adjust("61 seconds")
      assertInvalid(yield* refusal(v.verify(Redacted.make("t"))), "expired")
    }))

  it.effect("the horizon is configurable; clientId defaults to `static`", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const v = yield* StaticTokenVerifier.make({ tokens: [{ token: Redacted.make("t") }], expiryHorizon: "10 minutes" })
      const at = yield* v.verify(Redacted.make("t"))
      assert.strictEqual(at.clientId, "static")
      assert.strictEqual(DateTime.toEpochMillis(at.expiresAt!), (NOW + 600) * 1000)
    }))

  it.effect("configuration: no token, an empty token, a duplicate → AuthConfigError without the value", () =>
    Effect.gen(function*() {
      const e1 = yield* Effect.flip(StaticTokenVerifier.make({ tokens: [] }))
      assert.strictEqual(e1.field, "tokens")
      yield* Effect.flip(StaticTokenVerifier.make({ tokens: [{ token: Redacted.make("") }] }))
      const e3 = yield* Effect.flip(StaticTokenVerifier.make({
        tokens: [{ token: Redacted.make("dup-secret") }, { token: Redacted.make("dup-secret") }]
      }))
      assert.notInclude(e3.message, "dup-secret")
    }))

  it.effect("the accepted token stays Redacted in the AccessToken (inspect, JSON, String)", () =>
    Effect.gen(function*() {
      const v = yield* StaticTokenVerifier.make({ tokens: [{ token: Redacted.make("sk-live-very-secret") }] })
      const at = yield* v.verify(Redacted.make("sk-live-very-secret"))
      for (const shown of [inspect(at, { depth: 10 }), JSON.stringify(at), String(at)]) {
        assert.notInclude(shown, "sk-live-very-secret")
      }
      assert.strictEqual(Redacted.value(at.token), "sk-live-very-secret")
    }))

  it.effect("the comparison hashes: tokens of any length, unicode, a prefix of a valid token — all compared safely", () =>
    Effect.gen(function*() {
      const v = yield* StaticTokenVerifier.make({
        tokens: [{ token: Redacted.make("ключ-🔑") }, { token: Redacted.make("x".repeat(5000)) }]
      })
      yield* v.verify(Redacted.make("ключ-🔑"))
      yield* v.verify(Redacted.make("x".repeat(5000)))
      assertInvalid(yield* refusal(v.verify(Redacted.make("x".repeat(4999)))), "unknown token")
      assertInvalid(yield* refusal(v.verify(Redacted.make("ключ"))), "unknown token")
    }))
})
