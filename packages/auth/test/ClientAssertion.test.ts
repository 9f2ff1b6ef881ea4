/**
 * ClientAssertion: the private_key_jwt signing shared by IntrospectionVerifier and the vault's
 * OAuthProvider. Which keys it takes (PKCS#8 PEM, a private JWK, a JWKS of one key), the default
 * algorithm per key type, what it refuses, and the assertion's claims (verified with the public
 * key). Against a real authorization server: oidc.test.ts and the vault's oauthProvider.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Redacted } from "effect"
import * as jose from "jose"
import { generateKeyPairSync } from "node:crypto"
import { ClientAssertion } from "../src/index.js"

const pem = (type: "rsa" | "rsa-pss" | "ed25519", bits = 2048) =>
  generateKeyPairSync(type as "rsa", { modulusLength: bits }).privateKey.export({ format: "pem", type: "pkcs8" }).toString()

describe("ClientAssertion", () => {
  it.effect("keys: PEM, JWK and a JWKS of one key; the default algorithm follows the key", () =>
    Effect.gen(function*() {
      const ec = generateKeyPairSync("ec", { namedCurve: "P-384" })
      const jwk = { ...ec.privateKey.export({ format: "jwk" }), kid: "ec-1" }
      const cases: Array<[string, string, string | undefined]> = [
        [pem("rsa"), "RS256", undefined],
        [pem("ed25519"), "EdDSA", undefined],
        [JSON.stringify(jwk), "ES384", "ec-1"],
        [JSON.stringify({ keys: [jwk] }), "ES384", "ec-1"]
      ]
      for (const [key, alg, kid] of cases) {
        const parsed = yield* ClientAssertion.check(Redacted.make(key))
        assert.strictEqual(parsed.alg, alg)
        assert.strictEqual(parsed.kid, kid)
      }
      assert.strictEqual((yield* ClientAssertion.check(Redacted.make(pem("rsa")), "PS384")).alg, "PS384")
      // a JWK's own alg (what its public half was registered with) is the default
      const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" })
      assert.strictEqual((yield* ClientAssertion.check(Redacted.make(JSON.stringify({ keys: [{ ...rsa, alg: "PS256", use: "sig" }] })))).alg, "PS256")
    }))

  it.effect("refused: public keys, symmetric keys, key sets of several keys, a foreign algorithm, a short RSA key", () =>
    Effect.gen(function*() {
      const ec = generateKeyPairSync("ec", { namedCurve: "P-256" })
      const priv = ec.privateKey.export({ format: "jwk" })
      const cases: Array<[string, string | undefined, ClientAssertion.KeyProblem]> = [
        [ec.publicKey.export({ format: "pem", type: "spki" }).toString(), undefined, "key"],
        [JSON.stringify(ec.publicKey.export({ format: "jwk" })), undefined, "key"],
        [JSON.stringify({ kty: "oct", k: "c2VjcmV0LXNlY3JldC1zZWNyZXQ" }), undefined, "key"],
        [JSON.stringify({ keys: [priv, priv] }), undefined, "key"],
        ["not a key at all", undefined, "key"],
        [JSON.stringify(priv), "RS256", "alg"],
        [pem("rsa", 1024), undefined, "sign"],
        // an encryption key; a JWK asked to sign with another alg than its own
        [JSON.stringify({ ...priv, use: "enc" }), undefined, "key"],
        [JSON.stringify({ ...priv, alg: "ES256" }), "ES384", "alg"],
        // an RSA-PSS key cannot become the JWK jose signs with (an RSA key signs PS256 itself)
        [pem("rsa-pss"), undefined, "key"]
      ]
      for (const [key, alg, problem] of cases) {
        assert.strictEqual(yield* Effect.flip(ClientAssertion.check(Redacted.make(key), alg)), problem)
      }
    }))

  it.effect("an assertion: iss = sub = the client id, aud, jti, 60 s, kid; verifiable with the public key", () =>
    Effect.gen(function*() {
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" })
      const key = yield* ClientAssertion.check(Redacted.make(JSON.stringify(privateKey.export({ format: "jwk" }))))
      const one = yield* Effect.promise(() => ClientAssertion.sign(key, { clientId: "rs", audience: "https://as.example/token", kid: "k1" }))
      const two = yield* Effect.promise(() => ClientAssertion.sign(key, { clientId: "rs", audience: "https://as.example/token" }))
      const { payload, protectedHeader } = yield* Effect.promise(() =>
        jose.jwtVerify(one, publicKey, { issuer: "rs", subject: "rs", audience: "https://as.example/token" })
      )
      assert.deepStrictEqual(protectedHeader, { alg: "ES256", kid: "k1" })
      assert.strictEqual(payload.exp! - payload.iat!, 60)
      assert.notStrictEqual(payload.jti, jose.decodeJwt(two).jti)
      assert.isUndefined(jose.decodeProtectedHeader(two).kid)
    }))
})
