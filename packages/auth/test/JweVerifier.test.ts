import { afterAll, assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Context, Effect, Exit, Layer, Logger, LogLevel, Redacted, TestClock } from "effect"
import * as jose from "jose"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { createPublicKey, type JsonWebKey, type KeyObject } from "node:crypto"
import { join } from "node:path"
import { AuthUser, JweVerifier, McpAuth, TokenVerifier } from "../src/index.js"
import { assertInvalid, keyPair, NOW, refusal, sign } from "./helpers.js"

const dir = mkdtempSync(join(tmpdir(), "mcp-auth-jwe-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A key as the seed's CLI writes it: RSA, kid = RFC 7638 thumbprint, alg RSA-OAEP, use enc. */
const seedKey = await (async () => {
  const kp = await keyPair("RSA-OAEP")
  const kid = await jose.calculateJwkThumbprint(kp.publicJwk)
  return { ...kp, kid, privateJwk: { ...kp.privateJwk, kid, alg: "RSA-OAEP", use: "enc" } }
})()
const seedFile = join(dir, "mcp-private.json")
writeFileSync(seedFile, JSON.stringify({ keys: [seedKey.privateJwk] }, null, 2))

const enc2 = await keyPair("RSA-OAEP-256", "enc-2")
const enc2Jwk = { ...enc2.privateJwk, alg: "RSA-OAEP-256", use: "enc" }
const issuer = await keyPair("ES256", "iss-1")
const AUD = "https://mcp.example.com/mcp"

/** A seed-style token: compact JWE, RSA-OAEP + A256GCM, no kid, the claims encrypted as they are. */
const seedToken = (plaintext: string, key: jose.CryptoKey | KeyObject = seedKey.publicKey) =>
  Effect.promise(() =>
    new jose.CompactEncrypt(new TextEncoder().encode(plaintext))
      .setProtectedHeader({ alg: "RSA-OAEP", enc: "A256GCM" })
      .encrypt(key)
  )

const seedVerifier = (extra: Partial<JweVerifier.CommonOptions> = {}) =>
  Effect.map(JweVerifier.make({ keyFile: seedFile, decryptionOnly: true, ...extra }), (r) => r.verifier)

const at = (seconds: number) => TestClock.setTime(seconds * 1000)
const quiet = Logger.replace(Logger.defaultLogger, Logger.none)

describe("JweVerifier — seed §2.7 verifier cases (decryptionOnly)", () => {
  it.effect("fix (case 1): no MCP_KEY_FILE_PATH → the layer fails at startup instead of serving unauthenticated", () =>
    Effect.gen(function*() {
      const layer = JweVerifier.layerConfig({ keyFile: JweVerifier.keyFilePath, decryptionOnly: Config.succeed(true as const) })
      const exit = yield* Effect.exit(Layer.build(layer).pipe(Effect.scoped, Effect.withConfigProvider(ConfigProvider.fromMap(new Map()))))
      assert.isTrue(Exit.isFailure(exit))
    }))

  it.effect("fix (case 2): a key file that is not JSON → AuthConfigError at startup naming the field, not the content", () =>
    Effect.gen(function*() {
      const bad = join(dir, "bad.json")
      writeFileSync(bad, "{bad-json")
      const error = yield* Effect.flip(JweVerifier.make({ keyFile: bad, decryptionOnly: true }))
      assert.strictEqual(error._tag, "AuthConfigError")
      assert.strictEqual(error.field, "keyFile")
      assert.strictEqual(error.reason, "not valid JSON")
      assert.notInclude(error.message, "bad-json")
    }).pipe(Effect.provide(quiet)))

  it.effect("keep (case 3): a JWKS file with one private RSA key → configured; the public JWKS holds exactly kty/kid/alg/use/n/e", () =>
    Effect.gen(function*() {
      const keys = yield* JweVerifier.PublicKeys
      assert.strictEqual(keys.keys.length, 1)
      const [key] = keys.keys
      assert.deepStrictEqual(Object.keys(key!).sort(), ["alg", "e", "kid", "kty", "n", "use"])
      assert.strictEqual(key!.kid, seedKey.kid)
      assert.strictEqual(key!.n, seedKey.publicJwk.n)
      assert.notProperty(key, "d")
    }).pipe(
      Effect.provide(JweVerifier.layerConfig({ keyFile: JweVerifier.keyFilePath, decryptionOnly: Config.succeed(true as const) })),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["MCP_KEY_FILE_PATH", seedFile]]))),
      Effect.provide(quiet)
    ))

  it.effect("keep (case 4): time 1000, {data:{sub:123}, iat 900, exp 1100}, RSA-OAEP + A256GCM → claims {sub: 123}", () =>
    Effect.gen(function*() {
      yield* at(1000)
      const v = yield* seedVerifier()
      const token = yield* seedToken(JSON.stringify({ data: { sub: "123" }, iat: 900, exp: 1100 }))
      const result = yield* v.verify(Redacted.make(token))
      assert.deepStrictEqual(result.claims, { sub: "123" })
      assert.strictEqual(result.subject, "123")
      assert.deepStrictEqual(AuthUser.fromAccessToken(result).claims, { sub: "123" })
    }).pipe(Effect.provide(quiet)))

  it.effect("keep (case 5): no iat/exp → missing claim", () =>
    Effect.gen(function*() {
      yield* at(1000)
      const v = yield* seedVerifier()
      assertInvalid(yield* refusal(v.verify(Redacted.make(yield* seedToken(JSON.stringify({ data: { sub: "1" } }))))), "missing claim")
      assertInvalid(yield* refusal(v.verify(Redacted.make(yield* seedToken(JSON.stringify({ sub: "1", exp: 1100 }))))), "missing claim")
    }).pipe(Effect.provide(quiet)))

  it.effect("keep (case 6, clockTolerance 0): iat 1001 > now 1000 → not yet valid", () =>
    Effect.gen(function*() {
      yield* at(1000)
      const v = yield* seedVerifier({ clockTolerance: 0 })
      const token = yield* seedToken(JSON.stringify({ sub: "1", iat: 1001, exp: 1100 }))
      assertInvalid(yield* refusal(v.verify(Redacted.make(token))), "not yet valid")
    }).pipe(Effect.provide(quiet)))

  it.effect("fix (case 6): the default 30 s tolerance accepts a 1 s clock skew, refuses 60 s", () =>
    Effect.gen(function*() {
      yield* at(1000)
      const v = yield* seedVerifier()
      yield* v.verify(Redacted.make(yield* seedToken(JSON.stringify({ sub: "1", iat: 1001, exp: 1100 }))))
      const future = yield* seedToken(JSON.stringify({ sub: "1", iat: 1060, exp: 1100 }))
      assertInvalid(yield* refusal(v.verify(Redacted.make(future))), "not yet valid")
    }).pipe(Effect.provide(quiet)))

  it.effect("keep (case 7): exp 999 < now 1000 → expired (tolerance 0); exp 960 with the default tolerance", () =>
    Effect.gen(function*() {
      yield* at(1000)
      const strict = yield* seedVerifier({ clockTolerance: 0 })
      assertInvalid(yield* refusal(strict.verify(Redacted.make(yield* seedToken(JSON.stringify({ sub: "1", iat: 900, exp: 999 }))))), "expired")
      const lenient = yield* seedVerifier()
      assertInvalid(yield* refusal(lenient.verify(Redacted.make(yield* seedToken(JSON.stringify({ sub: "1", iat: 900, exp: 960 }))))), "expired")
    }).pipe(Effect.provide(quiet)))

  it.effect("keep (case 8): plaintext `not json` → malformed", () =>
    Effect.gen(function*() {
      yield* at(1000)
      const v = yield* seedVerifier()
      assertInvalid(yield* refusal(v.verify(Redacted.make(yield* seedToken("not json")))), "malformed")
      assertInvalid(yield* refusal(v.verify(Redacted.make(yield* seedToken("[1,2]")))), "malformed")
    }).pipe(Effect.provide(quiet)))

  it.effect("keep (case 9): decryption fails (encrypted to another key) → decryption failed", () =>
    Effect.gen(function*() {
      yield* at(1000)
      const v = yield* seedVerifier()
      const other = yield* Effect.promise(() => keyPair("RSA-OAEP"))
      const token = yield* seedToken(JSON.stringify({ sub: "1", iat: 900, exp: 1100 }), other.publicKey)
      assertInvalid(yield* refusal(v.verify(Redacted.make(token))), "decryption failed")
    }).pipe(Effect.provide(quiet)))
})

describe("JweVerifier — seed implied cases (decryptionOnly)", () => {
  const verifyPlain = (payload: unknown, tolerance?: number) =>
    Effect.gen(function*() {
      yield* at(1000)
      const v = yield* seedVerifier(tolerance === undefined ? {} : { clockTolerance: tolerance })
      return yield* Effect.either(v.verify(Redacted.make(yield* seedToken(JSON.stringify(payload)))))
    }).pipe(Effect.provide(quiet))

  it.effect("keep: {data: {}} → refused (empty claims)", () =>
    Effect.map(verifyPlain({ data: {}, iat: 900, exp: 1100 }), (r) => {
      assert.isTrue(r._tag === "Left")
      if (r._tag === "Left") assertInvalid(r.left, "empty claims")
    }))

  it.effect("keep: iat == now accepted; exp == now refused (tolerance 0)", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* verifyPlain({ sub: "1", iat: 1000, exp: 1100 }, 0))._tag, "Right")
      const r = yield* verifyPlain({ sub: "1", iat: 900, exp: 1000 }, 0)
      if (r._tag === "Left") assertInvalid(r.left, "expired")
      else assert.fail("accepted")
    }))

  it.effect("keep: iat: true → refused (booleans are not numbers)", () =>
    Effect.map(verifyPlain({ sub: "1", iat: true, exp: 1100 }), (r) => {
      if (r._tag === "Left") assertInvalid(r.left, "malformed")
      else assert.fail("accepted")
    }))

  it.effect("keep: without `data` the claims are the whole payload, iat/exp included", () =>
    Effect.map(verifyPlain({ email: "a@example.com", iat: 900, exp: 1100 }), (r) => {
      if (r._tag === "Right") assert.deepStrictEqual(r.right.claims, { email: "a@example.com", iat: 900, exp: 1100 })
      else assert.fail(r.left.message)
    }))

  it.effect("keep: exp <= iat → refused", () =>
    Effect.map(verifyPlain({ sub: "1", iat: 950, exp: 950 }), (r) => assert.strictEqual(r._tag, "Left")))

  it.effect("fix: decryptionOnly logs a startup warning that tokens are forgeable", () =>
    Effect.gen(function*() {
      const logs: Array<{ level: string; message: string }> = []
      const capture = Logger.make(({ logLevel, message }) => {
        logs.push({ level: logLevel.label, message: String(Array.isArray(message) ? message.join(" ") : message) })
      })
      yield* JweVerifier.make({ keyFile: seedFile, decryptionOnly: true }).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, capture)),
        Logger.withMinimumLogLevel(LogLevel.All)
      )
      const warning = logs.find((l) => l.level === "WARN")
      assert.isDefined(warning)
      assert.include(warning!.message, "forge")
      assert.isDefined(logs.find((l) => l.level === "INFO" && l.message.includes(`kid=${seedKey.kid}`)))
      // no key material in any log line
      for (const l of logs) assert.notInclude(l.message, String(seedKey.privateJwk.d).slice(0, 20))
    }))

  it.effect("fix: optional iss/aud checks in decryptionOnly mode", () =>
    Effect.gen(function*() {
      yield* at(1000)
      const v = yield* Effect.map(
        JweVerifier.make({ keyFile: seedFile, decryptionOnly: true, audience: AUD, issuer: "https://iss" }),
        (r) => r.verifier
      )
      const ok = yield* seedToken(JSON.stringify({ sub: "1", iat: 900, exp: 1100, aud: AUD, iss: "https://iss" }))
      yield* v.verify(Redacted.make(ok))
      const wrongAud = yield* seedToken(JSON.stringify({ sub: "1", iat: 900, exp: 1100, aud: "x", iss: "https://iss" }))
      assertInvalid(yield* refusal(v.verify(Redacted.make(wrongAud))), "wrong audience")
      const wrongIss = yield* seedToken(JSON.stringify({ sub: "1", iat: 900, exp: 1100, aud: AUD }))
      assertInvalid(yield* refusal(v.verify(Redacted.make(wrongIss))), "wrong issuer")
    }).pipe(Effect.provide(quiet)))
})

describe("JweVerifier — default mode (signed JWT inside)", () => {
  const options: JweVerifier.Options = {
    keys: { keys: [seedKey.privateJwk, enc2Jwk] },
    jwt: { publicKey: issuer.publicJwk, audience: AUD, issuer: "https://issuer" }
  }
  const nested = (claims: Record<string, unknown>, header: jose.CompactJWEHeaderParameters, key: jose.CryptoKey | KeyObject) =>
    Effect.promise(async () => {
      const inner = await sign(claims, issuer.privateKey, { alg: "ES256", kid: "iss-1", aud: AUD, iss: "https://issuer" })
      return new jose.CompactEncrypt(new TextEncoder().encode(inner)).setProtectedHeader({ cty: "JWT", ...header }).encrypt(key)
    })

  it.effect("a JWE carrying a JWT signed by the trusted issuer is accepted; the outer token is the AccessToken's", () =>
    Effect.gen(function*() {
      yield* at(NOW)
      const { verifier } = yield* JweVerifier.make(options)
      const token = yield* nested({ sub: "u1", scope: "tools:read", data: { email: "u1@example.com" } }, {
        alg: "RSA-OAEP-256",
        enc: "A256GCM",
        kid: "enc-2"
      }, enc2.publicKey)
      const result = yield* verifier.verify(Redacted.make(token))
      assert.strictEqual(Redacted.value(result.token), token)
      assert.strictEqual(result.subject, "u1")
      assert.deepStrictEqual(result.scopes, ["tools:read"])
      assert.strictEqual(AuthUser.fromAccessToken(result).email, "u1@example.com")
    }))

  it.effect("fix: a signed JWT with seed-style `data` keeps its verified registered claims: McpAuth stamps the resource, requiredClaims finds `sub`", () =>
    Effect.gen(function*() {
      yield* at(NOW)
      const { verifier } = yield* JweVerifier.make(options)
      const token = yield* nested({ sub: "u1", scope: "tools:read", data: { email: "u1@example.com", sub: "from-data" } }, {
        alg: "RSA-OAEP-256",
        enc: "A256GCM",
        kid: "enc-2"
      }, enc2.publicKey)
      const result = yield* verifier.verify(Redacted.make(token))
      // the data members, and the signed payload's registered claims (which win over data's)
      assert.strictEqual(result.claims.email, "u1@example.com")
      assert.strictEqual(result.claims.sub, "u1")
      assert.strictEqual(result.claims.aud, AUD)
      assert.strictEqual(result.claims.iss, "https://issuer")
      assert.strictEqual(result.claims.exp, NOW + 3600)
      assert.isUndefined(result.claims.data)
      assert.strictEqual(AuthUser.fromAccessToken(result).email, "u1@example.com")
      const authenticate = (requiredClaims: Array<string>) =>
        McpAuth.authenticate({ resource: AUD, requiredClaims })(new Request(AUD, { method: "POST", headers: { authorization: `Bearer ${token}` } })).pipe(
          Effect.provideService(TokenVerifier.TokenVerifier, verifier)
        )
      const info = yield* authenticate(["sub", "email"])
      assert.notInstanceOf(info, Response)
      assert.strictEqual((info as McpAuth.Authentication & { resource?: URL })?.resource?.href, AUD)
      // decryptionOnly keeps the seed's rule: the claims are `data` alone (case 4 above)
    }).pipe(Effect.provide(quiet)))

  it.effect("fix: several keys, chosen by kid (the seed used the first one only)", () =>
    Effect.gen(function*() {
      yield* at(NOW)
      const { verifier } = yield* JweVerifier.make(options)
      const viaSeedKey = yield* nested({ sub: "a" }, { alg: "RSA-OAEP", enc: "A256GCM", kid: seedKey.kid }, seedKey.publicKey)
      assert.strictEqual((yield* verifier.verify(Redacted.make(viaSeedKey))).subject, "a")
      const unknown = yield* nested({ sub: "a" }, { alg: "RSA-OAEP-256", enc: "A256GCM", kid: "nope" }, enc2.publicKey)
      assertInvalid(yield* refusal(verifier.verify(Redacted.make(unknown))), "unknown key id")
      const noKid = yield* nested({ sub: "a" }, { alg: "RSA-OAEP-256", enc: "A256GCM" }, enc2.publicKey)
      assertInvalid(yield* refusal(verifier.verify(Redacted.make(noKid))), "key id required")
      // a key declared RSA-OAEP is not used for RSA-OAEP-256
      const seedKeyObject = createPublicKey({ key: seedKey.publicJwk as JsonWebKey, format: "jwk" })
      const wrongAlg = yield* nested({ sub: "a" }, { alg: "RSA-OAEP-256", enc: "A256GCM", kid: seedKey.kid }, seedKeyObject)
      assertInvalid(yield* refusal(verifier.verify(Redacted.make(wrongAlg))), "unsupported algorithm")
    }))

  it.effect("a JWT signed by another key inside → refused", () =>
    Effect.gen(function*() {
      yield* at(NOW)
      const { verifier } = yield* JweVerifier.make(options)
      const evil = yield* Effect.promise(() => keyPair("ES256", "iss-1"))
      const inner = yield* Effect.promise(() => sign({ sub: "admin" }, evil.privateKey, { alg: "ES256", kid: "iss-1", aud: AUD, iss: "https://issuer" }))
      const token = yield* Effect.promise(() =>
        new jose.CompactEncrypt(new TextEncoder().encode(inner)).setProtectedHeader({ alg: "RSA-OAEP-256", enc: "A256GCM", kid: "enc-2" }).encrypt(enc2.publicKey)
      )
      assertInvalid(yield* refusal(verifier.verify(Redacted.make(token))), "bad signature")
    }))

  it.effect("fix: without `jwt` and without decryptionOnly → AuthConfigError(jwt)", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(JweVerifier.make({ keys: [enc2Jwk] } as unknown as JweVerifier.Options))
      assert.strictEqual(error.field, "jwt")
    }).pipe(Effect.provide(quiet)))

  it.effect("fix: a key that can decrypt none of keyManagementAlgorithms → AuthConfigError at startup, not a 401 for everyone", () =>
    Effect.gen(function*() {
      const ecKey = yield* Effect.promise(() => keyPair("ECDH-ES", "ec-enc", { crv: "P-256" }))
      // an EC key with the default RSA-OAEP allow-list
      const ec = yield* Effect.flip(JweVerifier.make({ keys: [{ ...ecKey.privateJwk, use: "enc" }], jwt: options.jwt }))
      assert.strictEqual(ec._tag, "AuthConfigError")
      assert.strictEqual(ec.field, "keys")
      assert.include(ec.reason, "key 0")
      assert.include(ec.reason, "keyManagementAlgorithms")
      assert.notInclude(ec.message, String(ecKey.privateJwk.d))
      // an RSA key pinned to RSA-OAEP when only RSA-OAEP-256 is accepted (from a key file: field keyFile)
      const pinned = yield* Effect.flip(JweVerifier.make({ keyFile: seedFile, keyManagementAlgorithms: ["RSA-OAEP-256"], jwt: options.jwt }))
      assert.strictEqual(pinned.field, "keyFile")
      // each accepted with an algorithm it can use
      yield* JweVerifier.make({ keys: [{ ...ecKey.privateJwk, use: "enc" }], keyManagementAlgorithms: ["ECDH-ES+A256KW"], jwt: options.jwt })
      yield* JweVerifier.make({ keyFile: seedFile, jwt: options.jwt })
    }).pipe(Effect.provide(quiet)))

  it.effect("the layer provides TokenVerifier (cached) and PublicKeys; EC keys publish crv/x/y (fix)", () =>
    Effect.gen(function*() {
      const ecKey = yield* Effect.promise(() => keyPair("ECDH-ES", "ec-enc", { crv: "P-256" }))
      const ctx = yield* Layer.build(
        JweVerifier.layer({ keys: [{ ...ecKey.privateJwk, alg: "ECDH-ES", use: "enc" }], keyManagementAlgorithms: ["ECDH-ES"], jwt: options.jwt })
      )
      const pub = Context.get(ctx, JweVerifier.PublicKeys)
      assert.deepStrictEqual(Object.keys(pub.keys[0]!).sort(), ["alg", "crv", "kid", "kty", "use", "x", "y"])
      assert.isDefined(Context.get(ctx, TokenVerifier.TokenVerifier))
    }).pipe(Effect.scoped, Effect.provide(quiet)))
})

describe("JweVerifier — key files", () => {
  const fileWith = (name: string, content: unknown) => {
    const path = join(dir, name)
    writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content))
    return path
  }
  const reason = (path: string) =>
    Effect.map(Effect.flip(JweVerifier.loadKeyFile(path)), (e) => e.reason).pipe(Effect.provide(quiet))

  it.effect("missing file, empty set, public-only key, signing key, non-object → AuthConfigError", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* reason(join(dir, "missing.json")), "file not found")
      assert.strictEqual(yield* reason(fileWith("empty.json", { keys: [] })), "the key set is empty")
      assert.strictEqual(yield* reason(fileWith("public.json", { keys: [seedKey.publicJwk] })), "key 0 has no private part")
      assert.strictEqual(yield* reason(fileWith("sig.json", { keys: [{ ...seedKey.privateJwk, use: "sig" }] })), "key 0 is not an encryption key (use)")
      assert.strictEqual(yield* reason(fileWith("list.json", "[1]")), "key 0 is not a JWK")
      assert.strictEqual(yield* reason(fileWith("num.json", "42")), "not a JWK or a JWKS")
      assert.strictEqual(
        yield* reason(fileWith("twokids.json", { keys: [seedKey.privateJwk, seedKey.privateJwk] })),
        "two keys share a kid"
      )
    }))

  it.effect("keep: a single JWK object (not wrapped in keys) is accepted", () =>
    Effect.gen(function*() {
      const keys = yield* JweVerifier.loadKeyFile(fileWith("single.json", seedKey.privateJwk))
      assert.strictEqual(keys.length, 1)
      assert.strictEqual(keys[0]!.kid, seedKey.kid)
    }).pipe(Effect.provide(quiet)))
})
