import { assert, describe, it } from "@effect/vitest"
import { Context, DateTime, Effect, Equal, Hash, Layer, Redacted, TestClock } from "effect"
import { AccessToken, AuthError, JwtVerifier, StaticTokenVerifier, TokenVerifier } from "../src/index.js"
import { assertInvalid, HS_SECRET, NOW, refusal, sign } from "./helpers.js"

const hs = new TextEncoder().encode(HS_SECRET)
const jwtOptions = { secret: Redacted.make(HS_SECRET), audience: "mcp" } as const
const staticOptions = { tokens: StaticTokenVerifier.entriesFromRecord({ "key-123": { clientId: "service_account", scopes: ["read", "write"] } }) }
const jwtFor = (claims: Record<string, unknown>, o: Parameters<typeof sign>[2] = {}) =>
  Effect.promise(() => sign(claims, hs, { alg: "HS256", aud: "mcp", ...o }))

/** Counts how often the wrapped verifier does its (crypto) work. */
const counting = (inner: TokenVerifier.Verifier) => {
  const calls = { n: 0 }
  return {
    calls,
    verifier: TokenVerifier.make((token) => Effect.suspend(() => {
      calls.n++
      return inner.verify(token)
    }))
  }
}

describe("TokenVerifier.firstOf — FastMCP seed 002 multi-auth (API key or JWT)", () => {
  const multi = TokenVerifier.layerFirstOf(StaticTokenVerifier.layer(staticOptions), JwtVerifier.layer(jwtOptions))

  it.layer(multi)("api key or JWT", (it) => {
    it.effect("keep: an API key is accepted by the static verifier", () =>
      Effect.gen(function*() {
        const at = yield* TokenVerifier.verify(Redacted.make("key-123"))
        assert.strictEqual(at.clientId, "service_account")
      }))

    it.effect("keep: a JWT is accepted by the JWT verifier", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW * 1000)
        const at = yield* TokenVerifier.verify(Redacted.make(yield* jwtFor({ sub: "u", scope: "read" })))
        assert.strictEqual(at.subject, "u")
      }))

    it.effect("fix: when all refuse, the most specific error wins (expired JWT → expired, not `unknown token`)", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(NOW * 1000)
        const expired = yield* jwtFor({ sub: "u" }, { iat: NOW - 7200, exp: NOW - 3600 })
        assertInvalid(yield* refusal(TokenVerifier.verify(Redacted.make(expired))), "expired")
        assertInvalid(yield* refusal(TokenVerifier.verify(Redacted.make("nope"))), "unknown token")
        const wrongAud = yield* jwtFor({ sub: "u" }, { aud: "other" })
        assertInvalid(yield* refusal(TokenVerifier.verify(Redacted.make(wrongAud))), "wrong audience")
      }))
  })

  it.effect("order matters only on ties; infrastructure failures outrank format mismatches", () =>
    Effect.gen(function*() {
      const refuse = (e: AuthError.AuthError) => TokenVerifier.make(() => Effect.fail(e))
      const malformed = new AuthError.InvalidTokenError({ reason: "malformed" })
      const jwks = new AuthError.JwksFetchError({ reason: "timeout" })
      const expired = new AuthError.InvalidTokenError({ reason: "expired" })
      const e1 = yield* refusal(TokenVerifier.firstOf(refuse(malformed), refuse(jwks)).verify(Redacted.make("t")))
      assert.strictEqual(e1._tag, "JwksFetchError")
      const e2 = yield* refusal(TokenVerifier.firstOf(refuse(jwks), refuse(expired), refuse(malformed)).verify(Redacted.make("t")))
      assertInvalid(e2, "expired")
    }))

  it.effect("the first acceptance short-circuits", () =>
    Effect.gen(function*() {
      const a = counting(yield* StaticTokenVerifier.make(staticOptions))
      const b = counting(yield* StaticTokenVerifier.make(staticOptions))
      yield* TokenVerifier.firstOf(a.verifier, b.verifier).verify(Redacted.make("key-123"))
      assert.deepStrictEqual([a.calls.n, b.calls.n], [1, 0])
    }))
})

describe("TokenVerifier.cached", () => {
  it.effect("fix: a cached token's claims are frozen all the way down: one request cannot change what the next sees", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const cached = yield* TokenVerifier.cached(yield* JwtVerifier.make(jwtOptions))
      const token = Redacted.make(yield* jwtFor({ sub: "u", realm_access: { roles: ["reader"] } }))
      const first = yield* cached.verify(token)
      const roles = (first.claims.realm_access as { roles: Array<string> }).roles
      assert.throws(() => roles.push("admin"))
      assert.throws(() => ((first.claims as Record<string, unknown>).email = "x@evil.example"))
      const next = yield* cached.verify(token)
      assert.deepStrictEqual(next.claims.realm_access, { roles: ["reader"] })
      assert.isUndefined(next.claims.email)
    }))

  it.effect("fix: a cached token's scopes, client id, subject and expiry cannot be changed by one request for the next (only its claims were frozen)", () =>
    Effect.gen(function*() {
      const cached = yield* TokenVerifier.cached(
        yield* StaticTokenVerifier.make({ tokens: [{ token: Redacted.make("static-key-2"), clientId: "ci", scopes: ["read"] }] })
      )
      const token = Redacted.make("static-key-2")
      const first = yield* cached.verify(token)
      assert.throws(() => (first.scopes as Array<string>).push("admin"))
      assert.throws(() => ((first as { clientId: string }).clientId = "root"))
      assert.throws(() => ((first as { subject?: string }).subject = "root"))
      assert.throws(() => ((first as { expiresAt?: unknown }).expiresAt = undefined))
      const next = yield* cached.verify(token)
      assert.strictEqual(next, first, "a hit")
      assert.deepStrictEqual(next.scopes, ["read"])
      assert.isFalse(AccessToken.hasScope(next, "admin"))
      assert.strictEqual(next.clientId, "ci")
      // it still behaves as a value (Equal/Hash cache on it)
      assert.isTrue(Equal.equals(next, first))
    }))

  it.effect("fix: a cached token's expiry (the DateTime itself) cannot be changed by one request for the next; DateTime functions still work on it", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const cached = yield* TokenVerifier.cached(yield* JwtVerifier.make(jwtOptions))
      const token = Redacted.make(yield* jwtFor({ sub: "u" }, { exp: NOW + 600 }))
      const first = yield* cached.verify(token)
      const expiresAt = first.expiresAt!
      assert.throws(() => ((expiresAt as { epochMillis: number }).epochMillis = 8.64e15))
      assert.throws(() => ((DateTime.toPartsUtc(expiresAt) as { year: number }).year = 9999))
      assert.throws(() => ((first.token as { toString: () => string }).toString = () => "changed"))
      const next = yield* cached.verify(token)
      assert.strictEqual(next, first, "a hit")
      assert.strictEqual(DateTime.toEpochMillis(next.expiresAt!), (NOW + 600) * 1000)
      // what reads or caches on a DateTime keeps working on the frozen one
      const same = DateTime.unsafeMake((NOW + 600) * 1000)
      assert.strictEqual(DateTime.formatIso(expiresAt), DateTime.formatIso(same))
      assert.deepStrictEqual(DateTime.toParts(expiresAt), DateTime.toParts(same))
      assert.strictEqual(DateTime.getPartUtc(expiresAt, "year"), DateTime.getPartUtc(same, "year"))
      assert.isTrue(Equal.equals(expiresAt, same))
      assert.strictEqual(Hash.hash(expiresAt), Hash.hash(same))
      assert.strictEqual(DateTime.toEpochMillis(DateTime.add(expiresAt, { minutes: 1 })), (NOW + 660) * 1000)
      assert.strictEqual(DateTime.toDate(expiresAt).getTime(), (NOW + 600) * 1000)
      assert.strictEqual(DateTime.formatIsoZoned(DateTime.setZone(expiresAt, DateTime.zoneMakeOffset(3600_000))).slice(-6), "+01:00")
      assert.isFalse(yield* AccessToken.isExpired(next))
      assert.strictEqual(Redacted.value(next.token), Redacted.value(token))
      assert.isTrue(Equal.equals(next, first))
    }))

  it.effect("fix: a static token's configured expiry is a frozen copy: shared by every request (cache or not), the caller's own is not frozen", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const configured = DateTime.unsafeMake((NOW + 3600) * 1000)
      const verifier = yield* StaticTokenVerifier.make({ tokens: [{ token: Redacted.make("static-key-3"), expiresAt: configured }] })
      const first = yield* verifier.verify(Redacted.make("static-key-3"))
      assert.throws(() => ((first.expiresAt as { epochMillis: number }).epochMillis = 8.64e15))
      const next = yield* verifier.verify(Redacted.make("static-key-3"))
      assert.strictEqual(DateTime.toEpochMillis(next.expiresAt!), (NOW + 3600) * 1000)
      assert.isFalse(Object.isFrozen(configured))
    }))

  it.effect("fix: a static token's configured claims are copied and frozen: a request cannot change them for the next", () =>
    Effect.gen(function*() {
      const config = { groups: ["ops"] }
      const verifier = yield* StaticTokenVerifier.make({ tokens: [{ token: Redacted.make("static-key-1"), claims: { config } }] })
      const first = yield* verifier.verify(Redacted.make("static-key-1"))
      assert.throws(() => ((first.claims.config as { groups: Array<string> }).groups.push("admin")))
      const next = yield* verifier.verify(Redacted.make("static-key-1"))
      assert.deepStrictEqual(next.claims.config, { groups: ["ops"] })
      // the caller's own object is neither frozen nor changed
      config.groups.push("caller-may")
      assert.deepStrictEqual((yield* verifier.verify(Redacted.make("static-key-1"))).claims.config, { groups: ["ops"] })
    }))

  it.effect("a cache hit skips the crypto: the same JWT verified 5 times costs one verification", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const { calls, verifier } = counting(yield* JwtVerifier.make(jwtOptions))
      const cached = yield* TokenVerifier.cached(verifier)
      const token = Redacted.make(yield* jwtFor({ sub: "u" }))
      for (let i = 0; i < 5; i++) assert.strictEqual((yield* cached.verify(token)).subject, "u")
      assert.strictEqual(calls.n, 1)
      // another token is another key
      yield* cached.verify(Redacted.make(yield* jwtFor({ sub: "v" })))
      assert.strictEqual(calls.n, 2)
    }))

  it.effect("the TTL never outlives the token's exp: after exp the token is verified again (and refused)", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const { calls, verifier } = counting(yield* JwtVerifier.make({ ...jwtOptions, clockTolerance: 0 }))
      const cached = yield* TokenVerifier.cached(verifier, { maxTtl: "1 hour" })
      const token = Redacted.make(yield* jwtFor({ sub: "u" }, { exp: NOW + 60 }))
      yield* cached.verify(token)
      yield* TestClock.adjust("59 seconds")
      yield* cached.verify(token)
      assert.strictEqual(calls.n, 1)
      yield* TestClock.adjust("2 seconds")
      assertInvalid(yield* refusal(cached.verify(token)), "expired")
      assert.strictEqual(calls.n, 2)
    }))

  it.effect("the TTL never exceeds maxTtl", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const { calls, verifier } = counting(yield* JwtVerifier.make(jwtOptions))
      const cached = yield* TokenVerifier.cached(verifier, { maxTtl: "30 seconds" })
      const token = Redacted.make(yield* jwtFor({ sub: "u" }))
      yield* cached.verify(token)
      yield* TestClock.adjust("29 seconds")
      yield* cached.verify(token)
      yield* TestClock.adjust("2 seconds")
      yield* cached.verify(token)
      assert.strictEqual(calls.n, 2)
    }))

  it.effect("bounded: least recently used entries are evicted past capacity", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const { calls, verifier } = counting(yield* StaticTokenVerifier.make({
        tokens: StaticTokenVerifier.entriesFromRecord({ a: {}, b: {}, c: {} })
      }))
      const cached = yield* TokenVerifier.cached(verifier, { capacity: 2 })
      const v = (t: string) => cached.verify(Redacted.make(t))
      yield* v("a")
      yield* v("b")
      yield* v("a") // hit; a is now most recent
      yield* v("c") // evicts b
      assert.strictEqual(calls.n, 3)
      yield* v("a") // still cached
      assert.strictEqual(calls.n, 3)
      yield* v("b") // was evicted
      assert.strictEqual(calls.n, 4)
    }))

  it.effect("refusals are not cached", () =>
    Effect.gen(function*() {
      const { calls, verifier } = counting(yield* StaticTokenVerifier.make(staticOptions))
      const cached = yield* TokenVerifier.cached(verifier)
      yield* refusal(cached.verify(Redacted.make("bad")))
      yield* refusal(cached.verify(Redacted.make("bad")))
      assert.strictEqual(calls.n, 2)
    }))

  it.effect("every verifier layer caches by default; cache: false turns it off", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const token = Redacted.make(yield* jwtFor({ sub: "u" }))
      const first = (layer: Layer.Layer<TokenVerifier.TokenVerifier, unknown>) =>
        Effect.scoped(Effect.gen(function*() {
          const v = Context.get(yield* Layer.build(layer), TokenVerifier.TokenVerifier)
          const a = yield* Effect.orDie(v.verify(token))
          const b = yield* Effect.orDie(v.verify(token))
          return a === b
        }))
      assert.isTrue(yield* first(JwtVerifier.layer(jwtOptions)))
      assert.isFalse(yield* first(JwtVerifier.layer({ ...jwtOptions, cache: false })))
    }))

  it.live("verifyPromise shares the cache with verify; refusals reject with the tagged error and are not cached", () =>
    Effect.gen(function*() {
      const calls = { n: 0 }
      const inner = yield* JwtVerifier.make(jwtOptions)
      const counted = TokenVerifier.make(
        (token) => Effect.suspend(() => (calls.n++, inner.verify(token))),
        (token) => (calls.n++, inner.verifyPromise(token))
      )
      const cached = yield* TokenVerifier.cached(counted)
      const now = Math.floor(Date.now() / 1000)
      const token = Redacted.make(yield* jwtFor({ sub: "u" }, { iat: now, exp: now + 600 }))
      const a = yield* Effect.promise(() => cached.verifyPromise(token))
      const b = yield* Effect.promise(() => cached.verifyPromise(token))
      const c = yield* cached.verify(token)
      assert.strictEqual(a.subject, "u")
      assert.isTrue(a === b && b === c)
      assert.strictEqual(calls.n, 1)
      const bad = Redacted.make(yield* jwtFor({ sub: "u" }, { iat: now, exp: now + 600, aud: "other" }))
      for (let i = 0; i < 2; i++) {
        const e = yield* Effect.promise(() => cached.verifyPromise(bad).then(() => undefined, (e: unknown) => e))
        assertInvalid(e, "wrong audience")
      }
      assert.strictEqual(calls.n, 3)
    }))

  it.effect("the default verifyPromise (a verifier made from verify alone) rejects with the AuthError itself", () =>
    Effect.gen(function*() {
      const v = yield* StaticTokenVerifier.make(staticOptions)
      const ok = yield* Effect.promise(() => v.verifyPromise(Redacted.make("key-123")))
      assert.strictEqual(ok.clientId, "service_account")
      const e = yield* Effect.promise(() => v.verifyPromise(Redacted.make("nope")).then(() => undefined, (e: unknown) => e))
      assert.isTrue(AuthError.isAuthError(e), String(e))
      assert.strictEqual((e as AuthError.AuthError)._tag, "InvalidTokenError")
    }))

  it("the cache key is the SHA-256 of the token, never the token", () => {
    const key = TokenVerifier.cacheKey(Redacted.make("secret-token"))
    assert.match(key, /^[0-9a-f]{64}$/)
    assert.notInclude(key, "secret-token")
  })
})

describe("TokenVerifier.layerTest", () => {
  it.layer(TokenVerifier.layerTest({ "t-1": { clientId: "c", scopes: ["read"], claims: { email: "a@b.c" } } }))("fixed tokens", (it) => {
    it.effect("accepts the configured tokens, refuses others", () =>
      Effect.gen(function*() {
        const at = yield* TokenVerifier.verify(Redacted.make("t-1"))
        assert.isTrue(AccessToken.hasScope(at, "read"))
        assert.isDefined(at.expiresAt)
        assertInvalid(yield* refusal(TokenVerifier.verify(Redacted.make("t-2"))), "unknown token")
      }))
  })
})
