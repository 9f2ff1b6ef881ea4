import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { JweVerifier, JwtVerifier } from "@mcp-credentials/auth"
import { Effect, Redacted } from "effect"
import * as jose from "jose"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { assertBuilt, isOneLine, run, runInProcess, tempDir } from "./helpers.js"

const SECRET = "CANARY-hmac-secret-0123456789abcdef-0123456789"
const AUD = "https://mcp.example.com"
const ISS = "https://issuer.example.com"

describe.concurrent("token mint", () => {
  const tmp = tempDir()
  const keys = (name: string) => join(tmp.dir, ".keys", name)
  const readSet = (name: string): jose.JSONWebKeySet => JSON.parse(readFileSync(keys(name), "utf8"))
  beforeAll(async () => {
    assertBuilt()
    const [enc, sig] = await Promise.all([
      runInProcess(["keys", "generate", "--size", "2048", "--dir", join(tmp.dir, ".keys")]),
      runInProcess(["keys", "generate", "--use", "sig", "--size", "2048", "--dir", join(tmp.dir, ".keys")])
    ])
    assert.strictEqual(enc.code, 0, enc.stderr)
    assert.strictEqual(sig.code, 0, sig.stderr)
  })
  afterAll(tmp.cleanup)

  const mint = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
    run(["token", "mint", ...args], { cwd: tmp.dir, env })
  /** The same in process (absolute paths only): for variants of what the binary is tested with. */
  const mintInProcess = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
    runInProcess(["token", "mint", ...args], env)

  it.live("HS256 with --secret-env: iat, exp = iat + 1h, iss, aud; accepted by the auth package's JwtVerifier (on the real clock: a token issued now is not yet valid at a TestClock's epoch); the secret never printed", () =>
    Effect.gen(function*() {
      const r = yield* Effect.promise(() =>
        mint(["--claims", '{"sub":"alice","email":"a@example.com"}', "--secret-env", "DEV_SECRET", "--iss", ISS, "--aud", AUD], {
          DEV_SECRET: SECRET
        })
      )
      assert.strictEqual(r.code, 0, r.stderr)
      assert.notInclude(r.stdout + r.stderr, SECRET)
      const token = r.stdout.trim()
      const { payload, protectedHeader } = yield* Effect.promise(() =>
        jose.jwtVerify(token, new TextEncoder().encode(SECRET), { issuer: ISS, audience: AUD, algorithms: ["HS256"] })
      )
      assert.strictEqual(protectedHeader.alg, "HS256")
      assert.include(payload, { sub: "alice", email: "a@example.com" })
      assert.strictEqual(payload.exp! - payload.iat!, 3600)
      assert.approximately(payload.iat!, Date.now() / 1000, 60)

      const verifier = yield* JwtVerifier.make({ secret: Redacted.make(SECRET), audience: AUD, issuer: ISS })
      const verified = yield* verifier.verify(Redacted.make(token))
      assert.strictEqual(verified.claims.sub, "alice")
    }))

  it("--exp 5m, several --aud (in process)", async () => {
    const r = await mintInProcess(["--claims", '{"sub":"bob"}', "--secret-env", "S", "--exp", "5m", "--aud", "a", "--aud", "b"], { S: SECRET })
    assert.strictEqual(r.code, 0, r.stderr)
    const payload = jose.decodeJwt(r.stdout.trim())
    assert.strictEqual(payload.exp! - payload.iat!, 300)
    assert.deepStrictEqual(payload.aud, ["a", "b"])
  })

  it("RS256 with --sign-key (keys generate --use sig): verifies against the public JWKS by kid (in process)", async () => {
    const r = await mintInProcess(["--claims", '{"sub":"carol"}', "--sign-key", keys("mcp-signing-private.json"), "--aud", AUD])
    assert.strictEqual(r.code, 0, r.stderr)
    const { payload, protectedHeader } = await jose.jwtVerify(
      r.stdout.trim(),
      jose.createLocalJWKSet(readSet("mcp-signing-public.json")),
      { audience: AUD }
    )
    assert.strictEqual(protectedHeader.alg, "RS256")
    assert.strictEqual(protectedHeader.kid, readSet("mcp-signing-public.json").keys[0]!.kid)
    assert.strictEqual(payload.sub, "carol")
  })

  it("ES256 from a single-JWK file (in process)", async () => {
    const { privateKey } = await jose.generateKeyPair("ES256", { extractable: true })
    const jwk = await jose.exportJWK(privateKey)
    const file = join(tmp.dir, "es.json")
    writeFileSync(file, JSON.stringify(jwk))
    const r = await mintInProcess(["--claims", '{"sub":"dave"}', "--sign-key", file])
    assert.strictEqual(r.code, 0, r.stderr)
    const { x, y, crv, kty } = jwk
    const { protectedHeader } = await jose.jwtVerify(r.stdout.trim(), await jose.importJWK({ kty, crv, x, y } as jose.JWK, "ES256"))
    assert.strictEqual(protectedHeader.alg, "ES256")
  })

  it.live("--encrypt-key: a JWE (RSA-OAEP-256 + A256GCM, cty JWT, kid) of the signed JWT, accepted by the auth package's JweVerifier", () =>
    Effect.gen(function*() {
      const r = yield* Effect.promise(() =>
        mint([
          "--claims", '{"sub":"erin","email":"e@example.com"}',
          "--sign-key", keys("mcp-signing-private.json"),
          "--encrypt-key", keys("mcp-public.json"),
          "--aud", AUD, "--iss", ISS
        ])
      )
      assert.strictEqual(r.code, 0, r.stderr)
      const token = r.stdout.trim()
      assert.strictEqual(token.split(".").length, 5)
      const privateKey = readSet("mcp-private.json").keys[0]!
      assert.deepStrictEqual(jose.decodeProtectedHeader(token), { alg: "RSA-OAEP-256", enc: "A256GCM", cty: "JWT", kid: privateKey.kid! })
      // the plaintext is the signed JWT
      const { plaintext } = yield* Effect.promise(async () =>
        jose.compactDecrypt(token, await jose.importJWK(privateKey, "RSA-OAEP-256"))
      )
      const inner = yield* Effect.promise(() =>
        jose.jwtVerify(new TextDecoder().decode(plaintext), jose.createLocalJWKSet(readSet("mcp-signing-public.json")), {
          audience: AUD,
          issuer: ISS
        })
      )
      assert.include(inner.payload, { sub: "erin", email: "e@example.com", iss: ISS, aud: AUD })
      // the server side: JweVerifier with the private key file, requiring the nested signed JWT (its default)
      const { verifier } = yield* JweVerifier.make({
        keyFile: keys("mcp-private.json"),
        jwt: { jwks: readSet("mcp-signing-public.json"), audience: AUD, issuer: ISS }
      })
      const verified = yield* verifier.verify(Redacted.make(token))
      assert.strictEqual(verified.claims.sub, "erin")
      assert.strictEqual(verified.claims.email, "e@example.com")
    }))

  it.live("the auth package's JweVerifier accepts a token encrypted to a rotated key set (new key first)", () =>
    Effect.gen(function*() {
      const gen = yield* Effect.promise(() => runInProcess(["keys", "generate", "--size", "2048", "--dir", join(tmp.dir, "rotated")]))
      assert.strictEqual(gen.code, 0, gen.stderr)
      const oldToken = yield* Effect.promise(() =>
        mint(["--claims", '{"sub":"old"}', "--sign-key", keys("mcp-signing-private.json"), "--encrypt-key", "rotated/mcp-public.json", "--aud", AUD])
      )
      assert.strictEqual((yield* Effect.promise(() => runInProcess(["keys", "rotate", "--dir", join(tmp.dir, "rotated")]))).code, 0)
      const newToken = yield* Effect.promise(() =>
        mint(["--claims", '{"sub":"new"}', "--sign-key", keys("mcp-signing-private.json"), "--encrypt-key", "rotated/mcp-public.json", "--aud", AUD])
      )
      const { verifier } = yield* JweVerifier.make({
        keyFile: join(tmp.dir, "rotated", "mcp-private.json"),
        jwt: { jwks: readSet("mcp-signing-public.json"), audience: AUD }
      })
      assert.strictEqual((yield* verifier.verify(Redacted.make(oldToken.stdout.trim()))).claims.sub, "old")
      assert.strictEqual((yield* verifier.verify(Redacted.make(newToken.stdout.trim()))).claims.sub, "new")
      assert.notStrictEqual(
        jose.decodeProtectedHeader(oldToken.stdout.trim()).kid,
        jose.decodeProtectedHeader(newToken.stdout.trim()).kid
      )
    }))

  it("bad arguments and unusable keys: one line on stderr, non-zero, nothing on stdout, no secret", async () => {
    const cases: ReadonlyArray<[ReadonlyArray<string>, number, string]> = [
      [["--claims", "{not json", "--secret-env", "S"], 2, "--claims"],
      [["--claims", "{}", "--secret-env", "S", "--exp", "soon"], 2, "--exp"],
      [["--claims", "{}", "--secret-env", "S", "--sign-key", "x.json"], 2, "--sign-key"],
      [["--claims", "{}", "--secret-env", "UNSET_VARIABLE"], 2, "--secret-env"],
      // fix: a time claim that is not a finite number names --claims (it blamed the key)
      [["--claims", '{"exp":1e400}', "--secret-env", "S"], 2, "--claims"],
      [["--claims", '{"iat":"now"}', "--secret-env", "S"], 2, "--claims"],
      // a base32 secret given by mistake is an upper-case identifier: it is not repeated either
      [["--claims", "{}", "--secret-env", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"], 2, "--secret-env"],
      [["--claims", "{}", "--secret-env", SECRET], 2, "--secret-env"],
      // a secret that is a valid identifier (a hex secret starting with a letter) is not echoed
      [["--claims", "{}", "--secret-env", "a3f9c2e1b7d0CANARY0123456789abcdef0123456789"], 2, "--secret-env"],
      [["--claims", "{}", "--sign-key", "missing.json"], 1, "missing.json: file not found"],
      [["--claims", "{}", "--sign-key", ".keys/mcp-private.json"], 1, "--use sig"],
      [["--claims", "{}", "--secret-env", "S", "--encrypt-key", ".keys/mcp-signing-public.json"], 1, "no encryption key"],
      [["--claims", "{}", "--sign-key", ".keys"], 1, "is a directory"],
      // fix: a key that cannot be used names the option and its file
      [["--claims", "{}", "--sign-key", "malformed.json"], 1, "(--sign-key "],
      [["--secret-env", "S"], 2, "--claims"]
    ]
    writeFileSync(join(tmp.dir, "malformed.json"), JSON.stringify({
      keys: [{ kty: "RSA", use: "sig", alg: "RS256", kid: "bad", n: "AQAB", e: "AQAB", d: "AQAB", p: "AQAB", q: "AQAB", dp: "AQAB", dq: "AQAB", qi: "AQAB" }]
    }))
    // three through the binary (a bad option, a secret given as the variable name, an unreadable file), the rest in process
    const binaryCases = new Set<ReadonlyArray<string>>(cases.filter(([args]) => args.includes("{not json") || args.includes(SECRET) || args.includes("missing.json")).map(([args]) => args))
    assert.strictEqual(binaryCases.size, 3)
    const viaBinary = new Set(cases.flatMap(([args], i) => (binaryCases.has(args) ? [i] : [])))
    const absolute = (args: ReadonlyArray<string>) => args.map((a) => (a === ".keys" || a.startsWith(".keys/") || a.endsWith(".json") ? join(tmp.dir, a) : a))
    const results = await Promise.all(cases.map(([args], i) =>
      viaBinary.has(i) ? mint(args, { S: SECRET }) : mintInProcess(absolute(args), { S: SECRET })
    ))
    for (const [i, [args, code, named]] of cases.entries()) {
      const r = results[i]!
      const what = `${args.join(" ")}: ${r.stderr}`
      assert.strictEqual(r.code, code, what)
      assert.strictEqual(r.stdout, "", what)
      assert.isTrue(isOneLine(r.stderr), what)
      assert.include(r.stderr, named, what)
      assert.notInclude(r.stderr, "CANARY", what)
      // what was given to --secret-env is never repeated
      const at = args.indexOf("--secret-env")
      const given = at >= 0 ? args[at + 1] : undefined
      if (given !== undefined && given !== "S") assert.notInclude(r.stderr, given, what)
    }
  })

  it("a short HMAC secret works with a warning that does not show it (in process)", async () => {
    const r = await mintInProcess(["--claims", '{"sub":"x"}', "--secret-env", "S"], { S: "CANARY-short" })
    assert.strictEqual(r.code, 0, r.stderr)
    assert.include(r.stderr, "shorter than 32 bytes")
    assert.notInclude(r.stdout + r.stderr, "CANARY-short")
  })
})
