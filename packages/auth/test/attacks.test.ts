/**
 * The attack suite of issue 4, at the verifier level: every forged or broken token is refused
 * with a tagged error whose message names the reason and never echoes the token.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Redacted } from "effect"
import * as jose from "jose"
import { createHmac } from "node:crypto"
import { type AuthError, JweVerifier, JwtVerifier, type TokenVerifier } from "../src/index.js"
import { assertInvalid, atNow, b64, jwksServer, keyPair, NOW, rawJws, refusal, sign } from "./helpers.js"

const AUD = "https://mcp.example.com/mcp"
const ISS = "https://issuer.example.com"
const issuer = await keyPair("RS256", "sig-1")
const enc = await keyPair("RSA-OAEP-256", "enc-1")
const encPrivate = { ...enc.privateJwk, alg: "RSA-OAEP-256", use: "enc" }

const jwtOptions: JwtVerifier.Options = { jwks: { keys: [issuer.publicJwk] }, audience: AUD, issuer: ISS }
const good = (claims: Record<string, unknown> = { sub: "alice" }, o: Parameters<typeof sign>[2] = {}) =>
  sign(claims, issuer.privateKey, { kid: "sig-1", aud: AUD, iss: ISS, ...o })

const jwt = JwtVerifier.make(jwtOptions)
const jwe = Effect.map(JweVerifier.make({ keys: [encPrivate], jwt: jwtOptions }), (r) => r.verifier)

const check = (
  verifier: Effect.Effect<TokenVerifier.Verifier, unknown>,
  token: string,
  reason: string | ReadonlyArray<string>
) =>
  atNow(Effect.gen(function*() {
    const v = yield* Effect.orDie(verifier)
    const error = yield* refusal(v.verify(Redacted.make(token)))
    assertInvalid(error, reason)
    assertSafe(error, token)
  }))

/** The message names the reason; no part of the token appears in it or in its JSON form. */
const assertSafe = (error: AuthError.AuthError, token: string) => {
  const shown = `${error.message} ${JSON.stringify(error)} ${String(error)}`
  for (const part of token.split(".").filter((p) => p.length >= 8)) assert.notInclude(shown, part.slice(0, 16))
}

const encrypt = (
  plaintext: string,
  header: jose.CompactJWEHeaderParameters = { alg: "RSA-OAEP-256", enc: "A256GCM", kid: "enc-1" },
  options?: jose.EncryptOptions
) => new jose.CompactEncrypt(new TextEncoder().encode(plaintext)).setProtectedHeader(header).encrypt(enc.publicKey, options)

describe("attack suite — JWT", () => {
  it.effect("sanity: the untampered token is accepted", () =>
    atNow(Effect.gen(function*() {
      const v = yield* jwt
      const at = yield* v.verify(Redacted.make(yield* Effect.promise(() => good())))
      assert.strictEqual(at.subject, "alice")
    })))

  it.effect("alg: none → unsupported algorithm", () =>
    Effect.gen(function*() {
      const token = rawJws({ alg: "none", kid: "sig-1" }, { sub: "admin", aud: AUD, iss: ISS, exp: NOW + 3600 })
      yield* check(jwt, token, "unsupported algorithm")
      yield* check(jwt, token + "c2ln", "unsupported algorithm")
      // also against a secret-based verifier
      const hsVerifier = JwtVerifier.make({ secret: Redacted.make("an-hmac-secret-of-at-least-32-bytes!!"), audience: AUD })
      yield* check(hsVerifier, token, "unsupported algorithm")
      yield* check(jwt, rawJws({ alg: "NONE" }, { sub: "admin" }), "unsupported algorithm")
    }))

  it.effect("HS256 signed with the RSA public key → unsupported algorithm", () =>
    Effect.gen(function*() {
      const header = b64({ alg: "HS256", kid: "sig-1" })
      const payload = b64({ sub: "admin", aud: AUD, iss: ISS, iat: NOW, exp: NOW + 3600 })
      const sig = createHmac("sha256", issuer.publicPem).update(`${header}.${payload}`).digest("base64url")
      const token = `${header}.${payload}.${sig}`
      yield* check(jwt, token, "unsupported algorithm")
      yield* check(JwtVerifier.make({ publicKey: issuer.publicPem, audience: AUD }), token, "unsupported algorithm")
      yield* check(JwtVerifier.make({ publicKey: issuer.publicJwk, audience: AUD }), token, "unsupported algorithm")
    }))

  it.effect("expired → expired", () =>
    Effect.flatMap(Effect.promise(() => good({ sub: "a" }, { iat: NOW - 7200, exp: NOW - 3600 })), (t) => check(jwt, t, "expired")))

  it.effect("not yet valid → not yet valid", () =>
    Effect.flatMap(Effect.promise(() => good({ sub: "a" }, { nbf: NOW + 600 })), (t) => check(jwt, t, "not yet valid")))

  it.effect("wrong audience → wrong audience", () =>
    Effect.flatMap(Effect.promise(() => good({ sub: "a" }, { aud: "https://other.example.com/mcp" })), (t) =>
      check(jwt, t, "wrong audience")))

  it.effect("wrong issuer → wrong issuer", () =>
    Effect.flatMap(Effect.promise(() => good({ sub: "a" }, { iss: "https://evil.example.com" })), (t) =>
      check(jwt, t, "wrong issuer")))

  it.effect("unknown kid → unknown key id", () =>
    Effect.gen(function*() {
      const other = yield* Effect.promise(() => keyPair("RS256", "evil"))
      const token = yield* Effect.promise(() => sign({ sub: "a" }, other.privateKey, { kid: "evil", aud: AUD, iss: ISS }))
      yield* check(jwt, token, "unknown key id")
    }))

  it.effect("a key the attacker owns, under the trusted kid → bad signature", () =>
    Effect.gen(function*() {
      const other = yield* Effect.promise(() => keyPair("RS256"))
      const token = yield* Effect.promise(() => sign({ sub: "a" }, other.privateKey, { kid: "sig-1", aud: AUD, iss: ISS }))
      yield* check(jwt, token, "bad signature")
    }))

  it.effect("tampered payload → bad signature", () =>
    Effect.gen(function*() {
      const [h, , s] = (yield* Effect.promise(() => good({ sub: "alice", scope: "read" }))).split(".")
      const forged = `${h}.${b64({ sub: "alice", scope: "read admin", aud: AUD, iss: ISS, iat: NOW, exp: NOW + 3600 })}.${s}`
      yield* check(jwt, forged, "bad signature")
    }))

  it.effect("truncated token → malformed or bad signature", () =>
    Effect.gen(function*() {
      const token = yield* Effect.promise(() => good())
      yield* check(jwt, token.slice(0, -10), ["bad signature", "malformed"])
      yield* check(jwt, token.slice(0, token.lastIndexOf(".")), "malformed")
      yield* check(jwt, token.slice(0, token.indexOf(".") + 5), "malformed")
      yield* check(jwt, token.slice(0, 12), "malformed")
    }))

  it.effect("token over 16 KiB → too large, refused before parsing", () =>
    Effect.gen(function*() {
      const big = yield* Effect.promise(() => good({ sub: "a", pad: "x".repeat(17 * 1024) }))
      yield* check(jwt, big, "too large")
      // not even base64: still "too large", so nothing was decoded
      yield* check(jwt, "!".repeat(16 * 1024 + 1), "too large")
      yield* check(jwe, "!".repeat(16 * 1024 + 1), "too large")
      // under 16 Ki characters but over 16 KiB of UTF-8 (2 bytes each); and just under the limit
      yield* check(jwt, "é".repeat(8 * 1024 + 1), "too large")
      yield* check(jwe, "é".repeat(8 * 1024 + 1), "too large")
      yield* check(jwt, "é".repeat(8 * 1024), "malformed")
    }))

  it.effect("crit header not understood → unsupported crit header", () =>
    Effect.gen(function*() {
      const token = yield* Effect.promise(() => good({ sub: "a" }, { header: { crit: ["urn:example:ext"], "urn:example:ext": 1 }, crit: { "urn:example:ext": true } }))
      yield* check(jwt, token, "unsupported crit header")
      // declared as understood by the application: accepted
      const v = yield* JwtVerifier.make({ ...jwtOptions, crit: ["urn:example:ext"] })
      yield* atNow(v.verify(Redacted.make(token)))
    }))
})

describe("attack suite — JWT, fixed public key (one jose pass; verify and verifyPromise)", () => {
  const fixed = JwtVerifier.make({ publicKey: issuer.publicPem, audience: AUD, issuer: ISS })
  const now = () => Math.floor(Date.now() / 1000)
  // verifyPromise reads the system clock: tokens for it are dated now
  const fresh = (claims: Record<string, unknown> = { sub: "alice" }, o: Parameters<typeof sign>[2] = {}) =>
    sign(claims, issuer.privateKey, { kid: "sig-1", aud: AUD, iss: ISS, iat: now(), exp: now() + 3600, ...o })
  const both = (token: string, reason: string | ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const v = yield* Effect.orDie(fixed)
      const viaEffect = yield* refusal(v.verify(Redacted.make(token)))
      assertInvalid(viaEffect, reason)
      assertSafe(viaEffect, token)
      const viaPromise = yield* Effect.promise(() =>
        v.verifyPromise(Redacted.make(token)).then(() => assert.fail("the token was accepted"), (e: unknown) => e)
      )
      assertInvalid(viaPromise, reason)
      assertSafe(viaPromise as AuthError.AuthError, token)
    })

  it.live("sanity: a good token is accepted by both", () =>
    Effect.gen(function*() {
      const v = yield* Effect.orDie(fixed)
      const token = Redacted.make(yield* Effect.promise(() => fresh({ sub: "alice", scope: "a b" })))
      const a = yield* v.verify(token)
      const b = yield* Effect.promise(() => v.verifyPromise(token))
      assert.strictEqual(a.subject, "alice")
      assert.deepStrictEqual(b.scopes, ["a", "b"])
    }))

  it.live("alg none, HS256 with the public key, tampered payload, expired, wrong audience, empty, too large", () =>
    Effect.gen(function*() {
      yield* both(rawJws({ alg: "none" }, { sub: "admin", aud: AUD, iss: ISS, exp: now() + 3600 }), "unsupported algorithm")
      const header = b64({ alg: "HS256" })
      const payload = b64({ sub: "admin", aud: AUD, iss: ISS, iat: now(), exp: now() + 3600 })
      const hs = `${header}.${payload}.${createHmac("sha256", issuer.publicPem).update(`${header}.${payload}`).digest("base64url")}`
      yield* both(hs, "unsupported algorithm")
      const token = yield* Effect.promise(() => fresh())
      const [h, , sig] = token.split(".")
      yield* both(`${h}.${b64({ sub: "admin", aud: AUD, iss: ISS, exp: now() + 3600 })}.${sig}`, "bad signature")
      yield* both(yield* Effect.promise(() => fresh({ sub: "a" }, { iat: now() - 7200, exp: now() - 3600 })), "expired")
      yield* both(yield* Effect.promise(() => fresh({ sub: "a" }, { aud: "https://other.example" })), "wrong audience")
      yield* both("x".repeat(17 * 1024), "too large")
      const v = yield* Effect.orDie(fixed)
      const missing = yield* Effect.promise(() => v.verifyPromise(Redacted.make("")).catch((e: unknown) => e))
      assert.strictEqual((missing as AuthError.AuthError)._tag, "MissingTokenError")
    }))

  it.live("fix: exp/nbf/iat that are not finite or past any date (1e400 parses to Infinity, 1e13) → malformed, on both paths", () =>
    Effect.gen(function*() {
      // signed by the trusted key: the JSON text carries the literal (SignJWT would refuse it)
      const signed = (claimsJson: string) =>
        Effect.promise(() =>
          new jose.CompactSign(new TextEncoder().encode(claimsJson)).setProtectedHeader({ alg: "RS256", kid: "sig-1" }).sign(issuer.privateKey)
        )
      for (const exp of ["1e400", "1e13"]) {
        const token = yield* signed(`{"sub":"a","aud":"${AUD}","iss":"${ISS}","iat":${now()},"exp":${exp}}`)
        yield* both(token, "malformed")
        const v = yield* Effect.orDie(jwt)
        const e = yield* refusal(v.verify(Redacted.make(token)))
        assertInvalid(e, "malformed")
      }
      yield* both(yield* signed(`{"sub":"a","aud":"${AUD}","iss":"${ISS}","exp":${now() + 600},"nbf":-1e400}`), "malformed")
    }))

  it.live("crit: an extension not declared by the application is refused, also one jose understands (b64)", () =>
    Effect.gen(function*() {
      yield* both(
        yield* Effect.promise(() => fresh({ sub: "a" }, { header: { crit: ["urn:example:ext"], "urn:example:ext": 1 }, crit: { "urn:example:ext": true } })),
        "unsupported crit header"
      )
      yield* both(yield* Effect.promise(() => fresh({ sub: "a" }, { header: { crit: ["b64"], b64: true } })), "unsupported crit header")
      // declared as understood: accepted
      const v = yield* JwtVerifier.make({ publicKey: issuer.publicPem, audience: AUD, issuer: ISS, crit: ["urn:example:ext"] })
      const token = yield* Effect.promise(() => fresh({ sub: "a" }, { header: { crit: ["urn:example:ext"], "urn:example:ext": 1 }, crit: { "urn:example:ext": true } }))
      assert.strictEqual((yield* v.verify(Redacted.make(token))).subject, "a")
      assert.strictEqual((yield* Effect.promise(() => v.verifyPromise(Redacted.make(token)))).subject, "a")
    }))
})

describe("attack suite — JWE", () => {
  it.effect("sanity: a JWE carrying a signed JWT is accepted", () =>
    atNow(Effect.gen(function*() {
      const v = yield* jwe
      const token = yield* Effect.promise(() => good().then((inner) => encrypt(inner)))
      assert.strictEqual((yield* v.verify(Redacted.make(token))).subject, "alice")
    })))

  it.effect("fix: JWE whose payload is unsigned (default mode) → unsigned JWE payload", () =>
    Effect.gen(function*() {
      const forged = yield* Effect.promise(() =>
        encrypt(JSON.stringify({ sub: "admin", email: "ceo@example.com", iat: NOW, exp: NOW + 3600, aud: AUD, iss: ISS }))
      )
      yield* check(jwe, forged, "unsigned JWE payload")
      const unsecured = yield* Effect.promise(() => encrypt(rawJws({ alg: "none" }, { sub: "admin" })))
      yield* check(jwe, unsecured, "unsigned JWE payload")
    }))

  it.effect("JWE with a wrong enc → unsupported algorithm", () =>
    Effect.gen(function*() {
      const inner = yield* Effect.promise(() => good())
      for (const encAlg of ["A128GCM", "A128CBC-HS256"] as const) {
        const token = yield* Effect.promise(() => encrypt(inner, { alg: "RSA-OAEP-256", enc: encAlg, kid: "enc-1" }))
        yield* check(jwe, token, "unsupported algorithm")
      }
    }))

  it.effect("JWE with a key-management algorithm outside the list → unsupported algorithm", () =>
    Effect.gen(function*() {
      const header = b64({ alg: "dir", enc: "A256GCM", kid: "enc-1" })
      yield* check(jwe, `${header}..${b64("iv")}.${b64("ct")}.${b64("tag")}`, "unsupported algorithm")
    }))

  it.effect("JWE with a crit header → unsupported crit header", () =>
    Effect.gen(function*() {
      const inner = yield* Effect.promise(() => good())
      const token = yield* Effect.promise(() =>
        encrypt(inner, { alg: "RSA-OAEP-256", enc: "A256GCM", kid: "enc-1", crit: ["urn:x"], "urn:x": true }, { crit: { "urn:x": true } })
      )
      yield* check(jwe, token, "unsupported crit header")
    }))

  it.effect("the nested JWT is checked like any JWT: expired inside a valid JWE → expired", () =>
    Effect.gen(function*() {
      const token = yield* Effect.promise(() => good({ sub: "a" }, { iat: NOW - 7200, exp: NOW - 3600 }).then((inner) => encrypt(inner)))
      yield* check(jwe, token, "expired")
    }))

  it.effect("a JWS presented to the JWE verifier, a JWE to the JWT verifier → malformed", () =>
    Effect.gen(function*() {
      const inner = yield* Effect.promise(() => good())
      yield* check(jwe, inner, "malformed")
      yield* check(jwt, yield* Effect.promise(() => encrypt(inner)), "malformed")
    }))
})

describe("attack suite — JWKS", () => {
  it.scopedLive("a JWKS that answers slowly → JwksFetchError(timeout), no hang", () =>
    Effect.gen(function*() {
      const server = yield* jwksServer({ keys: [issuer.publicJwk] }, { delayMs: 10_000 })
      const v = yield* JwtVerifier.make({
        jwksUri: server.url,
        audience: AUD,
        jwksOptions: { timeout: Duration.millis(200) }
      })
      const token = yield* Effect.promise(() => sign({ sub: "a" }, issuer.privateKey, { kid: "sig-1", aud: AUD, iat: Math.floor(Date.now() / 1000) - 10, exp: Math.floor(Date.now() / 1000) + 600 }))
      const [elapsed, error] = yield* Effect.timed(refusal(v.verify(Redacted.make(token))))
      assert.strictEqual(error._tag, "JwksFetchError")
      if (error._tag === "JwksFetchError") assert.strictEqual(error.reason, "timeout")
      assert.isBelow(Duration.toMillis(elapsed), 2_000)
      assert.strictEqual(server.state.hits, 1)
    }))
})
