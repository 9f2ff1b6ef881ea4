/**
 * Remote JWKS: cached, fetched single-flight, refetched on an unknown kid at most once per
 * cooldown (rotation), refreshed after maxAge, bounded by a timeout and a size limit. A real HTTP
 * server on a loopback port serves the key set and counts requests.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Logger, Redacted, TestClock } from "effect"
import { createSign, generateKeyPairSync } from "node:crypto"
import { JwtVerifier, type TokenVerifier } from "../src/index.js"
import { assertInvalid, b64, jwksServer, keyPair, NOW, refusal, serveHttp, sign } from "./helpers.js"

const AUD = "https://mcp.example.com/mcp"
const k1 = await keyPair("RS256", "k1")
const k2 = await keyPair("ES256", "k2")
const k3 = await keyPair("RS256", "k3")

const tokenFor = (key: typeof k1, kid: string | undefined, alg = "RS256") =>
  Effect.promise(() => sign({ sub: kid ?? "none" }, key.privateKey, { alg, kid, aud: AUD }))

const remote = (url: string, jwksOptions: JwtVerifier.JwksOptions = {}) =>
  JwtVerifier.make({ jwksUri: url, audience: AUD, jwksOptions })

const verify = (v: TokenVerifier.Verifier, token: string) => v.verify(Redacted.make(token))

describe("JwtVerifier — remote JWKS", () => {
  it.scoped("tokens verify through the JWKS; the key set is fetched once and cached", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const server = yield* jwksServer({ keys: [k1.publicJwk, k2.publicJwk] })
      const v = yield* remote(server.url)
      assert.strictEqual((yield* verify(v, yield* tokenFor(k1, "k1"))).subject, "k1")
      assert.strictEqual((yield* verify(v, yield* tokenFor(k2, "k2", "ES256"))).subject, "k2")
      assert.strictEqual((yield* verify(v, yield* tokenFor(k1, "k1"))).subject, "k1")
      assert.strictEqual(server.state.hits, 1)
    }))

  it.scoped("single flight: 20 concurrent verifications on a cold cache fetch once", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const server = yield* jwksServer({ keys: [k1.publicJwk] }, { delayMs: 100 })
      const v = yield* remote(server.url)
      const token = yield* tokenFor(k1, "k1")
      const results = yield* Effect.all(Array.from({ length: 20 }, () => verify(v, token)), { concurrency: "unbounded" })
      assert.strictEqual(results.length, 20)
      assert.strictEqual(server.state.hits, 1)
    }))

  it.scoped("single flight holds for failures too: 10 concurrent cold verifications against a 500 fetch once", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const server = yield* jwksServer({ keys: [k1.publicJwk] }, { delayMs: 50, status: 500 })
      const v = yield* remote(server.url)
      const token = yield* tokenFor(k1, "k1")
      const errors = yield* Effect.all(Array.from({ length: 10 }, () => refusal(verify(v, token))), { concurrency: "unbounded" })
      for (const e of errors) {
        assert.strictEqual(e._tag, "JwksFetchError")
        if (e._tag === "JwksFetchError") {
          assert.strictEqual(e.reason, "http status")
          assert.strictEqual(e.status, 500)
        }
      }
      assert.strictEqual(server.state.hits, 1)
    }))

  it.scoped("fix: a fetch whose caller was interrupted is not taken for a finished one: the waiting caller fetches itself", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const server = yield* jwksServer({ keys: [k1.publicJwk] }, { delayMs: 200 })
      const v = yield* remote(server.url)
      const token = yield* tokenFor(k1, "k1")
      const wait = (ms: number) => Effect.promise(() => new Promise((r) => setTimeout(r, ms)))
      const first = yield* Effect.fork(verify(v, token))
      yield* wait(50)
      const second = yield* Effect.fork(verify(v, token))
      yield* wait(20)
      yield* Fiber.interrupt(first)
      assert.strictEqual((yield* Fiber.join(second)).subject, "k1")
      assert.strictEqual(server.state.hits, 2)
    }))

  it.scoped("rotation: an unknown kid triggers a refetch, at most once per cooldown", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const server = yield* jwksServer({ keys: [k1.publicJwk] })
      const v = yield* remote(server.url, { cooldown: "30 seconds" })
      yield* verify(v, yield* tokenFor(k1, "k1"))
      assert.strictEqual(server.state.hits, 1)

      // the issuer rotates to k3; right after a fetch the cooldown holds
      server.state.jwks = { keys: [k3.publicJwk] }
      const rotated = yield* tokenFor(k3, "k3")
      assertInvalid(yield* refusal(verify(v, rotated)), "unknown key id")
      assert.strictEqual(server.state.hits, 1)

      // after the cooldown, the unknown kid refetches and the new key verifies
      yield* TestClock.adjust("31 seconds")
      assert.strictEqual((yield* verify(v, rotated)).subject, "k3")
      assert.strictEqual(server.state.hits, 2)

      // the retired key is gone; random kids cannot make it fetch again within the cooldown
      assertInvalid(yield* refusal(verify(v, yield* tokenFor(k1, "k1"))), "unknown key id")
      assertInvalid(yield* refusal(verify(v, yield* tokenFor(k1, "random-kid"))), "unknown key id")
      assert.strictEqual(server.state.hits, 2)
    }))

  it.scoped("fix: a kid-less token is refused when the remote set holds several keys", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const server = yield* jwksServer({ keys: [k1.publicJwk, k3.publicJwk] })
      const v = yield* remote(server.url)
      assertInvalid(yield* refusal(verify(v, yield* tokenFor(k1, undefined))), "key id required")
    }))

  it.scoped("after maxAge the set is refetched; if that fails, the previous set is kept", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const server = yield* jwksServer({ keys: [k1.publicJwk] })
      const v = yield* remote(server.url, { maxAge: "10 minutes" })
      const token = yield* tokenFor(k1, "k1")
      yield* verify(v, token)
      yield* TestClock.adjust("11 minutes")
      server.state.status = 503
      // the token's exp is NOW + 1 h: still valid
      assert.strictEqual((yield* verify(v, token)).subject, "k1")
      assert.strictEqual(server.state.hits, 2)
      // fix: the failed refresh is not retried by every verification: 10 more within the back-off
      // are served from the previous set without a fetch; after it, one new attempt
      for (let i = 0; i < 10; i++) assert.strictEqual((yield* verify(v, token)).subject, "k1")
      assert.strictEqual(server.state.hits, 2)
      yield* TestClock.adjust("6 seconds")
      server.state.status = 200
      yield* verify(v, token)
      assert.strictEqual(server.state.hits, 3)
    }))

  it.scoped("fix: after a failed cold fetch, verifications fail at once during the back-off, then fetch again", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const server = yield* jwksServer({ keys: [k1.publicJwk] }, { status: 503 })
      const v = yield* remote(server.url)
      const token = yield* tokenFor(k1, "k1")
      for (let i = 0; i < 10; i++) assert.strictEqual((yield* refusal(verify(v, token)))._tag, "JwksFetchError")
      assert.strictEqual(server.state.hits, 1)
      yield* TestClock.adjust("6 seconds")
      server.state.status = 200
      assert.strictEqual((yield* verify(v, token)).subject, "k1")
      assert.strictEqual(server.state.hits, 2)
    }))

  it.scoped("an unusable JWKS is a JwksFetchError: not a key set, too large", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const token = yield* tokenFor(k1, "k1")
      const notJson = yield* serveHttp((_req, res) => res.end("<html>"))
      const e1 = yield* refusal(verify(yield* remote(notJson.url), token))
      assert.strictEqual(e1._tag === "JwksFetchError" && e1.reason, "invalid key set")
      const huge = yield* serveHttp((_req, res) => res.end(JSON.stringify({ keys: [k1.publicJwk], pad: "x".repeat(200_000) })))
      const e2 = yield* refusal(verify(yield* remote(huge.url, { maxSize: 100_000 }), token))
      assert.strictEqual(e2._tag === "JwksFetchError" && e2.reason, "too large")
      const redirect = yield* serveHttp((_req, res) => {
        res.writeHead(302, { location: "http://example.com/jwks" })
        res.end()
      })
      const e3 = yield* refusal(verify(yield* remote(redirect.url), token))
      assert.strictEqual(e3._tag === "JwksFetchError" && e3.status, 302)
    }))

  it.scoped("a JWKS that publishes a private or symmetric key is refused whole", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const server = yield* jwksServer({ keys: [k1.privateJwk] })
      const error = yield* refusal(verify(yield* remote(server.url), yield* tokenFor(k1, "k1")))
      assert.strictEqual(error._tag === "JwksFetchError" && error.reason, "invalid key set")
      const local = yield* Effect.flip(JwtVerifier.make({ jwks: { keys: [k1.publicJwk, { kty: "oct", k: "c2VjcmV0" }] }, audience: AUD }))
      assert.strictEqual(local.field, "jwks")
    }))

  it.scoped("fix: RSA keys under 2048 bits in a remote JWKS are skipped with a warning (jose verifies nothing with them); the other keys keep working", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const lines: Array<string> = []
      const capture = Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => void lines.push(String(message))))
      const weak = generateKeyPairSync("rsa", { modulusLength: 1024 })
      const weakJwk = { ...weak.publicKey.export({ format: "jwk" }), kid: "weak" }
      const server = yield* jwksServer({ keys: [weakJwk as never, k1.publicJwk] })
      const v = yield* remote(server.url)
      assert.strictEqual((yield* verify(v, yield* tokenFor(k1, "k1")).pipe(Effect.provide(capture))).subject, "k1")
      assert.isTrue(lines.some((l) => l.includes("skipped 1 RSA key(s) under 2048 bits")), lines.join("\n"))
      // a token signed with the weak key (jose will not sign with it: node:crypto does) is refused, not a defect
      const input = `${b64({ alg: "RS256", kid: "weak" })}.${b64({ sub: "w", aud: AUD, iat: NOW, exp: NOW + 600 })}`
      const signed = `${input}.${createSign("RSA-SHA256").update(input).sign(weak.privateKey).toString("base64url")}`
      assertInvalid(yield* refusal(verify(v, signed)), "unknown key id")
      // a fixed JWKS with one is refused when built, naming the field
      const local = yield* Effect.flip(JwtVerifier.make({ jwks: { keys: [k1.publicJwk, weakJwk as never] }, audience: AUD }))
      assert.strictEqual(local.field, "jwks")
      assert.include(local.message, "2048")
    }))

  it.effect("a plain-http jwksUri to a non-loopback host logs a warning (keys could be replaced in transit); loopback is silent", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const capture = Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => void lines.push(String(message))))
      yield* JwtVerifier.make({ jwksUri: "http://keycloak:8080/certs", audience: AUD }).pipe(Effect.provide(capture))
      assert.isTrue(lines.some((l) => l.includes("jwksUri is plain http")), lines.join("\n"))
      lines.length = 0
      yield* JwtVerifier.make({ jwksUri: "http://127.0.0.1:9/certs", audience: AUD }).pipe(Effect.provide(capture))
      yield* JwtVerifier.make({ jwksUri: "https://keys.example/certs", audience: AUD }).pipe(Effect.provide(capture))
      assert.deepStrictEqual(lines, [])
    }))
})

describe("JwtVerifier — discover: true (the issuer's jwks_uri from its metadata)", () => {
  /** An issuer at `<url>/tenant` publishing `metadata` at `path` and its keys at /keys. */
  const issuerServer = (keys: ReadonlyArray<unknown>, metadataPath: "openid" | "rfc8414", issuerOf?: (url: string) => string) =>
    Effect.gen(function*() {
      const hits: Array<string> = []
      let base = ""
      const { url } = yield* serveHttp((req, res) => {
        hits.push(req.url ?? "")
        const issuer = `${base}/tenant`
        const doc = JSON.stringify({ issuer: issuerOf?.(base) ?? issuer, jwks_uri: `${base}/keys` })
        const wanted = metadataPath === "openid" ? "/tenant/.well-known/openid-configuration" : "/.well-known/oauth-authorization-server/tenant"
        if (req.url === wanted) return void res.writeHead(200, { "content-type": "application/json" }).end(doc)
        if (req.url === "/keys") return void res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys }))
        res.writeHead(404).end()
      })
      base = url
      return { issuer: `${url}/tenant`, hits }
    })

  it.scoped("OpenID configuration or RFC 8414 metadata gives the key set, once; tokens verify", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      for (const shape of ["openid", "rfc8414"] as const) {
        const idp = yield* issuerServer([k1.publicJwk], shape)
        const v = yield* JwtVerifier.make({ discover: true, issuer: idp.issuer, audience: AUD })
        assert.deepStrictEqual(idp.hits, [], "nothing fetched before the first token")
        const token = yield* Effect.promise(() => sign({ sub: "ada", iss: idp.issuer }, k1.privateKey, { alg: "RS256", kid: "k1", aud: AUD }))
        assert.strictEqual((yield* verify(v, token)).subject, "ada")
        assert.strictEqual((yield* verify(v, token)).subject, "ada")
        assert.strictEqual(idp.hits.filter((h) => h === "/keys").length, 1, shape)
        assert.strictEqual(idp.hits.filter((h) => h.includes(".well-known")).length, shape === "openid" ? 1 : 2, shape)
      }
    }))

  it.scoped("metadata naming another issuer is not used: JwksFetchError (discovery), the authenticator's 503", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const idp = yield* issuerServer([k1.publicJwk], "openid", () => "https://evil.example")
      const v = yield* JwtVerifier.make({ discover: true, issuer: idp.issuer, audience: AUD })
      const token = yield* Effect.promise(() => sign({ sub: "ada", iss: idp.issuer }, k1.privateKey, { alg: "RS256", kid: "k1", aud: AUD }))
      const e = yield* refusal(verify(v, token))
      assert.strictEqual(e._tag, "JwksFetchError")
      assert.strictEqual(e._tag === "JwksFetchError" ? e.reason : undefined, "discovery")
      assert.strictEqual(idp.hits.filter((h) => h === "/keys").length, 0)
    }))

  it.scoped("fix: metadata that is no JSON object (null, an array, a string) is JwksFetchError(discovery), not a defect, and backed off", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      for (const body of ["null", "[]", "\"metadata\"", "42"]) {
        const hits: Array<string> = []
        const idp = yield* serveHttp((req, res) => {
          hits.push(req.url ?? "")
          res.writeHead(200, { "content-type": "application/json" }).end(body)
        })
        const v = yield* JwtVerifier.make({ discover: true, issuer: `${idp.url}/tenant`, audience: AUD })
        const token = yield* Effect.promise(() => sign({ sub: "ada", iss: `${idp.url}/tenant` }, k1.privateKey, { alg: "RS256", kid: "k1", aud: AUD }))
        for (let i = 0; i < 3; i++) {
          const e = yield* refusal(verify(v, token))
          assert.strictEqual(e._tag === "JwksFetchError" && e.reason, "discovery", body)
        }
        // one discovery (its two metadata locations), then nothing for 5 s
        assert.strictEqual(hits.length, 2, body)
        yield* TestClock.adjust("6 seconds")
        yield* refusal(verify(v, token))
        assert.strictEqual(hits.length, 4, body)
      }
    }))

  it.scoped("fix: a discovered jwks_uri in plain http to a non-loopback host logs the warning a configured one does; loopback is silent", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const lines: Array<string> = []
      const capture = Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => void lines.push(String(message))))
      const keys = yield* serveHttp((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [k1.publicJwk] })))
      let issuer = ""
      const idp = yield* serveHttp((_req, res) =>
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ issuer, jwks_uri: "http://keys.internal.example/jwks" })))
      issuer = idp.url
      // the name resolves to the loopback key server: real HTTP, a non-loopback name
      const fetch = (url: string, init: RequestInit) => globalThis.fetch(url.replace("http://keys.internal.example", keys.url), init)
      const v = yield* JwtVerifier.make({ discover: true, issuer, audience: AUD, jwksOptions: { fetch } }).pipe(Effect.provide(capture))
      const token = yield* Effect.promise(() => sign({ sub: "ada", iss: issuer }, k1.privateKey, { alg: "RS256", kid: "k1", aud: AUD }))
      assert.strictEqual((yield* verify(v, token).pipe(Effect.provide(capture))).subject, "ada")
      assert.isTrue(lines.some((l) => l.includes("discovered jwks_uri is plain http")), lines.join("\n"))
      assert.notInclude(lines.join("\n"), "keys.internal.example")
      // the loopback one (the issuer's own server): silent
      lines.length = 0
      const local = yield* issuerServer([k1.publicJwk], "openid")
      const v2 = yield* JwtVerifier.make({ discover: true, issuer: local.issuer, audience: AUD })
      const token2 = yield* Effect.promise(() => sign({ sub: "ada", iss: local.issuer }, k1.privateKey, { alg: "RS256", kid: "k1", aud: AUD }))
      assert.strictEqual((yield* verify(v2, token2).pipe(Effect.provide(capture))).subject, "ada")
      assert.deepStrictEqual(lines, [])
    }))

  it.effect("discover needs one issuer string", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(JwtVerifier.make({ discover: true, audience: AUD }))
      assert.strictEqual(e.field, "issuer")
      const many = yield* Effect.flip(JwtVerifier.make({ discover: true, issuer: ["https://a.example", "https://b.example"], audience: AUD }))
      assert.strictEqual(many.field, "issuer")
    }))
})
