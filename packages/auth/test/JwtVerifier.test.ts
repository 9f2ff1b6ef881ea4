import { assert, describe, it } from "@effect/vitest"
import { DateTime, Effect, Exit, Redacted, TestClock } from "effect"
import { generateKeyPairSync } from "node:crypto"
import { AccessToken, JwtVerifier } from "../src/index.js"
import { assertInvalid, atNow, HS_SECRET, keyPair, NOW, refusal, secret, sign } from "./helpers.js"

const rsa = await keyPair("RS256", "rsa-1")
const ec = await keyPair("ES256", "ec-1")
const ed = await keyPair("Ed25519", "ed-1")
const hs = new TextEncoder().encode(HS_SECRET)
const AUD = "https://mcp.example.com/mcp"
const ISS = "https://issuer.example.com"

const verifyWith = (options: JwtVerifier.Options, token: string) =>
  Effect.flatMap(JwtVerifier.make(options), (v) => v.verify(Redacted.make(token)))

describe("JwtVerifier — FastMCP seed 002 (JWTVerifier)", () => {
  it.effect("keep: JWTVerifier(secret, algorithms=[HS256], audience, issuer) accepts its own tokens", () =>
    atNow(Effect.gen(function*() {
      const token = yield* Effect.promise(() =>
        sign({ sub: "user-1", scope: "read write" }, hs, { alg: "HS256", aud: "fastmcp-server", iss: "your-auth-service" })
      )
      const at = yield* verifyWith(
        { secret: secret(HS_SECRET), algorithms: ["HS256"], audience: "fastmcp-server", issuer: "your-auth-service" },
        token
      )
      assert.strictEqual(at.subject, "user-1")
      assert.deepStrictEqual(at.scopes, ["read", "write"])
      assert.strictEqual(Redacted.value(at.token), token)
      assert.strictEqual(DateTime.toEpochMillis(at.expiresAt!), (NOW + 3600) * 1000)
    })))

  it.effect("keep: user_id / client id fall back to sub, scopes from a `scope` string, metadata = the claims", () =>
    atNow(Effect.gen(function*() {
      const token = yield* Effect.promise(() => sign({ sub: "svc", scope: "read", role: "admin" }, hs, { alg: "HS256" }))
      const at = yield* verifyWith({ secret: secret(HS_SECRET), audience: false }, token)
      assert.strictEqual(at.clientId, "svc")
      assert.strictEqual(at.claims.role, "admin")
      assert.isTrue(AccessToken.hasScope(at, "read"))
    })))

  it.effect("keep: client_id claim wins over sub; `scp` arrays are scopes too", () =>
    atNow(Effect.gen(function*() {
      const token = yield* Effect.promise(() => sign({ sub: "user", client_id: "app", scp: ["a", "b"] }, hs, { alg: "HS256" }))
      const at = yield* verifyWith({ secret: secret(HS_SECRET), audience: false }, token)
      assert.strictEqual(at.clientId, "app")
      assert.deepStrictEqual(at.scopes, ["a", "b"])
    })))

  it.effect("keep: is_expired follows the clock", () =>
    atNow(Effect.gen(function*() {
      const token = yield* Effect.promise(() => sign({ sub: "u" }, hs, { alg: "HS256", exp: NOW + 60 }))
      const at = yield* verifyWith({ secret: secret(HS_SECRET), audience: false }, token)
      assert.isFalse(yield* AccessToken.isExpired(at))
      yield* TestClock.adjust("61 seconds")
      assert.isTrue(yield* AccessToken.isExpired(at))
    })))
})

describe("JwtVerifier — key sources", () => {
  it.effect("PEM public key (RS256)", () =>
    atNow(Effect.gen(function*() {
      const token = yield* Effect.promise(() => sign({ sub: "u" }, rsa.privateKey, { aud: AUD }))
      const at = yield* verifyWith({ publicKey: rsa.publicPem, audience: AUD }, token)
      assert.strictEqual(at.subject, "u")
    })))

  it.effect("public JWK (ES256) and Ed25519", () =>
    atNow(Effect.gen(function*() {
      const t1 = yield* Effect.promise(() => sign({ sub: "ec" }, ec.privateKey, { alg: "ES256", aud: AUD }))
      assert.strictEqual((yield* verifyWith({ publicKey: ec.publicJwk, audience: AUD }, t1)).subject, "ec")
      const t2 = yield* Effect.promise(() => sign({ sub: "ed" }, ed.privateKey, { alg: "Ed25519", aud: AUD }))
      assert.strictEqual((yield* verifyWith({ publicKey: ed.publicJwk, audience: AUD }, t2)).subject, "ed")
    })))

  it.effect("a fixed JWKS picks the key by kid", () =>
    atNow(Effect.gen(function*() {
      const jwks = { keys: [rsa.publicJwk, ec.publicJwk] }
      const t1 = yield* Effect.promise(() => sign({ sub: "r" }, rsa.privateKey, { kid: "rsa-1", aud: AUD }))
      const t2 = yield* Effect.promise(() => sign({ sub: "e" }, ec.privateKey, { alg: "ES256", kid: "ec-1", aud: AUD }))
      assert.strictEqual((yield* verifyWith({ jwks, audience: AUD }, t1)).subject, "r")
      assert.strictEqual((yield* verifyWith({ jwks, audience: AUD }, t2)).subject, "e")
    })))

  it.effect("fix: a kid-less token is refused when the set holds several keys", () =>
    atNow(Effect.gen(function*() {
      const token = yield* Effect.promise(() => sign({ sub: "r" }, rsa.privateKey, { aud: AUD }))
      assertInvalid(yield* refusal(verifyWith({ jwks: { keys: [rsa.publicJwk, ec.publicJwk] }, audience: AUD }, token)), "key id required")
      // with a single key it is accepted
      const { kid: _kid, ...withoutKid } = rsa.publicJwk
      const single = { keys: [withoutKid] }
      assert.strictEqual((yield* verifyWith({ jwks: single, audience: AUD }, token)).subject, "r")
    })))
})

describe("JwtVerifier — claims", () => {
  it.effect("audience: a list is accepted; the token needs one of them", () =>
    atNow(Effect.gen(function*() {
      const token = yield* Effect.promise(() => sign({ sub: "u" }, hs, { alg: "HS256", aud: ["other", AUD] }))
      yield* verifyWith({ secret: secret(HS_SECRET), audience: ["x", AUD] }, token)
      assertInvalid(yield* refusal(verifyWith({ secret: secret(HS_SECRET), audience: ["x", "y"] }, token)), "wrong audience")
    })))

  it.effect("fix: a token without aud is refused when an audience is configured", () =>
    atNow(Effect.gen(function*() {
      const token = yield* Effect.promise(() => sign({ sub: "u" }, hs, { alg: "HS256" }))
      assertInvalid(yield* refusal(verifyWith({ secret: secret(HS_SECRET), audience: AUD }, token)), "wrong audience")
    })))

  it.effect("fix: the audience is required (an AuthConfigError naming it) unless explicitly false", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(JwtVerifier.make({ secret: secret(HS_SECRET) } as unknown as JwtVerifier.Options))
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(JwtVerifier.make({ secret: secret(HS_SECRET), audience: [] }))
      assert.strictEqual(error._tag, "AuthConfigError")
      assert.strictEqual(error.field, "audience")
    }))

  it.effect("issuer: matched when configured, required then", () =>
    atNow(Effect.gen(function*() {
      const good = yield* Effect.promise(() => sign({ sub: "u" }, hs, { alg: "HS256", iss: ISS }))
      const none = yield* Effect.promise(() => sign({ sub: "u" }, hs, { alg: "HS256" }))
      yield* verifyWith({ secret: secret(HS_SECRET), audience: false, issuer: [ISS, "b"] }, good)
      assertInvalid(yield* refusal(verifyWith({ secret: secret(HS_SECRET), audience: false, issuer: ISS }, none)), "wrong issuer")
    })))

  it.effect("fix: the clock tolerance defaults to 30 s (exp 20 s ago accepted, 40 s ago refused)", () =>
    atNow(Effect.gen(function*() {
      const recent = yield* Effect.promise(() => sign({ sub: "u" }, hs, { alg: "HS256", iat: NOW - 100, exp: NOW - 20 }))
      const old = yield* Effect.promise(() => sign({ sub: "u" }, hs, { alg: "HS256", iat: NOW - 100, exp: NOW - 40 }))
      const early = yield* Effect.promise(() => sign({ sub: "u" }, hs, { alg: "HS256", nbf: NOW + 20 }))
      const options = { secret: secret(HS_SECRET), audience: false } as const
      yield* verifyWith(options, recent)
      yield* verifyWith(options, early)
      assertInvalid(yield* refusal(verifyWith(options, old)), "expired")
      assertInvalid(yield* refusal(verifyWith({ ...options, clockTolerance: 0 }, recent)), "expired")
    })))

  it.effect("fix: a token issued in the future (iat past now + the tolerance) is not yet valid, through verify and verifyPromise", () =>
    atNow(Effect.gen(function*() {
      const options = { secret: secret(HS_SECRET), audience: false } as const
      const skewed = yield* Effect.promise(() => sign({ sub: "u" }, hs, { alg: "HS256", iat: NOW + 20 }))
      const future = yield* Effect.promise(() => sign({ sub: "u" }, hs, { alg: "HS256", iat: NOW + 50_000, exp: NOW + 60_000 }))
      yield* verifyWith(options, skewed)
      assertInvalid(yield* refusal(verifyWith(options, future)), "not yet valid")
      assertInvalid(yield* refusal(verifyWith({ ...options, clockTolerance: 0 }, skewed)), "not yet valid")
      // the promise form reads the system clock: a token issued a day after it
      const v = yield* JwtVerifier.make(options)
      const t = Math.floor(Date.now() / 1000)
      const tomorrow = yield* Effect.promise(() => sign({ sub: "u" }, hs, { alg: "HS256", iat: t + 86_400, exp: t + 90_000 }))
      const error = yield* Effect.promise(() => v.verifyPromise(Redacted.make(tomorrow)).then(() => undefined, (e: unknown) => e))
      assertInvalid(error, "not yet valid")
    })))

  it.effect("fix: a required claim that is absent is a missing claim, whatever the claim (nbf was 'not yet valid')", () =>
    atNow(Effect.gen(function*() {
      const token = yield* Effect.promise(() => sign({ sub: "u" }, hs, { alg: "HS256" }))
      assertInvalid(yield* refusal(verifyWith({ secret: secret(HS_SECRET), audience: false, requiredClaims: ["nbf"] }, token)), "missing claim")
      assertInvalid(yield* refusal(verifyWith({ secret: secret(HS_SECRET), audience: false, requiredClaims: ["jti"] }, token)), "missing claim")
    })))

  it.effect("fix: a token without exp is refused by default (the SDK refuses it too); requireExpiry: false allows it", () =>
    atNow(Effect.gen(function*() {
      const token = yield* Effect.promise(() => sign({ sub: "u" }, hs, { alg: "HS256", exp: null }))
      assertInvalid(yield* refusal(verifyWith({ secret: secret(HS_SECRET), audience: false }, token)), "missing claim")
      const at = yield* verifyWith({ secret: secret(HS_SECRET), audience: false, requireExpiry: false }, token)
      assert.isUndefined(at.expiresAt)
    })))

  it.effect("typ: at+jwt enforced when configured", () =>
    atNow(Effect.gen(function*() {
      const plain = yield* Effect.promise(() => sign({ sub: "u" }, hs, { alg: "HS256" }))
      const at = yield* Effect.promise(() => sign({ sub: "u" }, hs, { alg: "HS256", header: { typ: "at+jwt" } }))
      const options = { secret: secret(HS_SECRET), audience: false, typ: "at+jwt" } as const
      yield* verifyWith(options, at)
      assertInvalid(yield* refusal(verifyWith(options, plain)), "malformed")
    })))
})

describe("JwtVerifier — configuration errors", () => {
  const configError = (options: JwtVerifier.Options) =>
    Effect.map(Effect.flip(JwtVerifier.make(options)), (e) => {
      assert.strictEqual(e._tag, "AuthConfigError")
      return e
    })

  it.effect("`none` is never accepted", () =>
    Effect.map(configError({ secret: secret(HS_SECRET), audience: false, algorithms: ["none"] }), (e) =>
      assert.strictEqual(e.field, "algorithms")))

  it.effect("HS* with a public key, RS* with a secret: refused at startup", () =>
    Effect.gen(function*() {
      yield* configError({ publicKey: rsa.publicPem, audience: false, algorithms: ["HS256"] })
      yield* configError({ secret: secret(HS_SECRET), audience: false, algorithms: ["RS256"] })
      yield* configError({ jwks: { keys: [rsa.publicJwk] }, audience: false, algorithms: ["HS256"] })
      yield* configError({ publicKey: ec.publicPem, audience: false, algorithms: ["RS256"] })
    }))

  it.effect("exactly one key source; a bad PEM or an oct JWK as public key is refused", () =>
    Effect.gen(function*() {
      yield* configError({ audience: false } as unknown as JwtVerifier.Options)
      yield* configError({ secret: secret(HS_SECRET), publicKey: rsa.publicPem, audience: false } as unknown as JwtVerifier.Options)
      yield* configError({ publicKey: "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----", audience: false })
      yield* configError({ publicKey: { kty: "oct", k: "c2VjcmV0" }, audience: false })
      yield* configError({ jwks: { keys: [] }, audience: false })
      yield* configError({ jwksUri: "ftp://example.com/jwks", audience: false })
    }))

  it.effect("fix: an RSA public key under 2048 bits (PEM, JWK, RSA-PSS) is refused at startup naming publicKey, not a 401 malformed for every token", () =>
    Effect.gen(function*() {
      const weak = generateKeyPairSync("rsa", { modulusLength: 1024 })
      const pem = weak.publicKey.export({ type: "spki", format: "pem" }) as string
      const jwk = weak.publicKey.export({ format: "jwk" }) as JwtVerifier.KeyOptions["publicKey"] & object
      const pss = generateKeyPairSync("rsa-pss", { modulusLength: 1024 }).publicKey.export({ type: "spki", format: "pem" }) as string
      for (const publicKey of [pem, jwk, pss]) {
        const e = yield* configError({ publicKey, audience: AUD })
        assert.strictEqual(e.field, "publicKey")
        assert.include(e.message, "2048 bits")
        assert.notInclude(e.message, typeof publicKey === "string" ? publicKey.split("\n")[1]! : String(jwk.n))
      }
      // 2048 bits: accepted, and a token it signed verifies
      const ok = generateKeyPairSync("rsa", { modulusLength: 2048 })
      const token = yield* Effect.promise(() =>
        sign({ sub: "u" }, ok.privateKey as unknown as Parameters<typeof sign>[1], { alg: "RS256", aud: AUD }))
      const at = yield* atNow(verifyWith({ publicKey: ok.publicKey.export({ type: "spki", format: "pem" }) as string, audience: AUD }, token))
      assert.strictEqual(at.subject, "u")
    }))

  it.effect("error messages name the field, never the secret", () =>
    Effect.gen(function*() {
      const e = yield* configError({ secret: secret(HS_SECRET), audience: false, algorithms: ["RS256"] })
      assert.notInclude(e.message, HS_SECRET)
      assert.include(e.message, "algorithms")
    }))
})
