/**
 * RFC 7662 details against a local endpoint that records what it receives. The real
 * authorization server (oidc-provider) backs the verifier in oidc.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Logger, Redacted, TestClock } from "effect"
import type { IncomingHttpHeaders } from "node:http"
import { IntrospectionVerifier, TokenVerifier } from "../src/index.js"
import { assertInvalid, NOW, readBody, refusal, serveHttp } from "./helpers.js"

interface Seen {
  readonly method: string
  readonly headers: IncomingHttpHeaders
  readonly form: URLSearchParams
}

const endpoint = (answer: (seen: Seen) => { status?: number; body: unknown; delayMs?: number }) =>
  Effect.gen(function*() {
    const seen: Array<Seen> = []
    const { url } = yield* serveHttp((req, res) => {
      void readBody(req).then((body) => {
        const s = { method: req.method ?? "", headers: req.headers, form: new URLSearchParams(body) }
        seen.push(s)
        const a = answer(s)
        const send = () => {
          res.writeHead(a.status ?? 200, { "content-type": "application/json" })
          res.end(typeof a.body === "string" ? a.body : JSON.stringify(a.body))
        }
        if (a.delayMs !== undefined) setTimeout(send, a.delayMs)
        else send()
      })
    })
    return { url: `${url}/introspect`, seen }
  })

const active = { active: true, client_id: "app", sub: "user-1", scope: "read write", exp: NOW + 3600, iss: "https://as", aud: "https://rs" }
const TOKEN = "opaque-token-value-1"
const verify = (v: TokenVerifier.Verifier, token = TOKEN) => v.verify(Redacted.make(token))

/** What the endpoint received for one verification by a verifier with `options`. */
const firstRequest = (options: Omit<IntrospectionVerifier.Options, "endpoint">) =>
  Effect.gen(function*() {
    yield* TestClock.setTime(NOW * 1000)
    const server = yield* endpoint(() => ({ body: active }))
    yield* verify(yield* IntrospectionVerifier.make({ ...options, endpoint: server.url } as IntrospectionVerifier.Options))
    return server.seen[0]!
  })

describe("IntrospectionVerifier — RFC 7662", () => {
  it.scoped("client_secret_basic: form POST with token and token_type_hint, Basic credentials form-encoded", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const server = yield* endpoint(() => ({ body: active }))
      const v = yield* IntrospectionVerifier.make({ endpoint: server.url, clientId: "rs client", clientSecret: Redacted.make("p@ss:word+1") })
      const at = yield* verify(v)
      assert.strictEqual(at.clientId, "app")
      assert.strictEqual(at.subject, "user-1")
      assert.deepStrictEqual(at.scopes, ["read", "write"])
      assert.strictEqual(Redacted.value(at.token), TOKEN)
      const [s] = server.seen
      assert.strictEqual(s!.method, "POST")
      assert.strictEqual(s!.headers["content-type"], "application/x-www-form-urlencoded")
      assert.strictEqual(s!.form.get("token"), TOKEN)
      assert.strictEqual(s!.form.get("token_type_hint"), "access_token")
      assert.isNull(s!.form.get("client_secret"))
      const basic = Buffer.from(String(s!.headers.authorization).replace(/^Basic /, ""), "base64").toString()
      assert.strictEqual(basic, "rs+client:p%40ss%3Aword%2B1")
    }))

  it.scoped("client_secret_post: credentials in the body, no Authorization header; tokenTypeHint: false omits the hint", () =>
    Effect.gen(function*() {
      const s = yield* firstRequest({
        clientId: "rs",
        clientSecret: Redacted.make("s3cret"),
        clientAuthMethod: "client_secret_post",
        tokenTypeHint: false,
        headers: { "x-service-key": "k" }
      })
      assert.isUndefined(s.headers.authorization)
      assert.strictEqual(s.form.get("client_id"), "rs")
      assert.strictEqual(s.form.get("client_secret"), "s3cret")
      assert.isNull(s.form.get("token_type_hint"))
      assert.strictEqual(s.headers["x-service-key"], "k")
    }))

  it.scoped("fix: the caller's headers are merged by name in any case; the verifier's own replace them", () =>
    Effect.gen(function*() {
      const s = yield* firstRequest({
        clientId: "rs",
        clientSecret: Redacted.make("s3cret"),
        headers: { Authorization: "Bearer gateway", Accept: "text/plain", "Content-Type": "text/plain", "X-Trace": "t1" }
      })
      // one value each (a plain spread sent both spellings, joined by fetch into "Bearer gateway, Basic …")
      assert.strictEqual(s.headers.authorization, `Basic ${Buffer.from("rs:s3cret").toString("base64")}`)
      assert.strictEqual(s.headers.accept, "application/json")
      assert.strictEqual(s.headers["content-type"], "application/x-www-form-urlencoded")
      assert.strictEqual(s.headers["x-trace"], "t1")
    }))

  it.scoped("active: false → InvalidTokenError(inactive); a non-RFC answer → IntrospectionError", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const inactive = yield* endpoint(() => ({ body: { active: false } }))
      assertInvalid(yield* refusal(verify(yield* IntrospectionVerifier.make({ endpoint: inactive.url }))), "inactive")
      for (const body of [{ client_id: "x" }, "[]", "not json", { active: "true" }]) {
        const bad = yield* endpoint(() => ({ body }))
        const e = yield* refusal(verify(yield* IntrospectionVerifier.make({ endpoint: bad.url })))
        assert.strictEqual(e._tag === "IntrospectionError" && e.reason, "invalid response")
      }
    }))

  it.scoped("fix: an active refresh, offline or ID token → InvalidTokenError(not an access token); access tokens pass", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const refused = [
        { token_type: "refresh_token" }, // some servers' RFC 7662 token_type
        { token_use: "refresh_token" }, // Ory Hydra
        { token_use: "id" }, // Amazon Cognito
        { typ: "Refresh" }, // Keycloak
        { typ: "Offline" },
        { typ: "ID" },
        { token_type: "urn:ietf:params:oauth:token-type:id_token" }, // RFC 8693 token exchange
        { token_type: "urn:ietf:params:oauth:token-type:refresh_token" }
      ]
      for (const extra of refused) {
        const server = yield* endpoint(() => ({ body: { ...active, ...extra } }))
        const v = yield* IntrospectionVerifier.make({ endpoint: server.url, audience: "https://rs" })
        assertInvalid(yield* refusal(verify(v)), "not an access token")
      }
      const accepted = [
        {},
        { token_type: "Bearer" },
        { token_type: "bearer" },
        { token_type: "DPoP" },
        { token_type: "urn:ietf:params:oauth:token-type:access_token" },
        { token_use: "access_token" },
        { token_use: "access" },
        { typ: "Bearer" }
      ]
      for (const extra of accepted) {
        const server = yield* endpoint(() => ({ body: { ...active, ...extra } }))
        const v = yield* IntrospectionVerifier.make({ endpoint: server.url, audience: "https://rs" })
        assert.strictEqual((yield* verify(v)).subject, "user-1")
      }
    }))

  it.scoped("a failing endpoint → IntrospectionError with the status; the token is not in the message", () =>
    Effect.gen(function*() {
      const server = yield* endpoint(() => ({ status: 401, body: { error: "invalid_client" } }))
      const e = yield* refusal(verify(yield* IntrospectionVerifier.make({ endpoint: server.url })))
      assert.strictEqual(e._tag, "IntrospectionError")
      assert.strictEqual(e.message, "Token introspection failed: http status 401")
      assert.notInclude(JSON.stringify(e), TOKEN)
    }))

  it.scopedLive("timeout: a slow endpoint fails fast with IntrospectionError(timeout)", () =>
    Effect.gen(function*() {
      const server = yield* endpoint(() => ({ body: active, delayMs: 10_000 }))
      const v = yield* IntrospectionVerifier.make({ endpoint: server.url, timeout: Duration.millis(200) })
      const [elapsed, e] = yield* Effect.timed(refusal(verify(v)))
      assert.strictEqual(e._tag === "IntrospectionError" && e.reason, "timeout")
      assert.isBelow(Duration.toMillis(elapsed), 2_000)
    }))

  it.scoped("expired / not yet valid answers are refused even when active", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const expired = yield* endpoint(() => ({ body: { ...active, exp: NOW - 1 } }))
      assertInvalid(yield* refusal(verify(yield* IntrospectionVerifier.make({ endpoint: expired.url }))), "expired")
      const early = yield* endpoint(() => ({ body: { ...active, nbf: NOW + 60 } }))
      assertInvalid(yield* refusal(verify(yield* IntrospectionVerifier.make({ endpoint: early.url }))), "not yet valid")
    }))

  it.scoped("optional audience and issuer checks", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const server = yield* endpoint(() => ({ body: active }))
      yield* verify(yield* IntrospectionVerifier.make({ endpoint: server.url, audience: ["x", "https://rs"], issuer: "https://as" }))
      assertInvalid(yield* refusal(verify(yield* IntrospectionVerifier.make({ endpoint: server.url, audience: "x" }))), "wrong audience")
      assertInvalid(yield* refusal(verify(yield* IntrospectionVerifier.make({ endpoint: server.url, issuer: "https://evil" }))), "wrong issuer")
    }))

  it.scoped("fix: without an audience a warning is logged when the verifier is built; audience: false is silent; a non-finite exp is malformed", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      const lines: Array<string> = []
      const capture = Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => void lines.push(String(message))))
      yield* IntrospectionVerifier.make({ endpoint: "https://as.example/introspect" }).pipe(Effect.provide(capture))
      assert.isTrue(lines.some((l) => l.includes("no audience is set")), lines.join("\n"))
      lines.length = 0
      yield* IntrospectionVerifier.make({ endpoint: "https://as.example/introspect", audience: false }).pipe(Effect.provide(capture))
      assert.deepStrictEqual(lines, [])
      const infinite = yield* endpoint(() => ({ body: `{"active":true,"sub":"a","exp":1e400}` }))
      const v = yield* IntrospectionVerifier.make({ endpoint: infinite.url, audience: false })
      assertInvalid(yield* refusal(verify(v)), "malformed")
    }))

  it.scoped("plain http to a non-loopback host logs a warning (RFC 7662 §4 requires TLS); loopback and https are silent", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const capture = Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => void lines.push(String(message))))
      const build = (endpoint: string) => IntrospectionVerifier.make({ endpoint, audience: false }).pipe(Effect.provide(capture))
      yield* build("http://auth.internal:8080/introspect")
      assert.isTrue(lines.some((l) => l.includes("plain http to a non-loopback host")), lines.join("\n"))
      lines.length = 0
      for (const quiet of ["https://as.example/introspect", "http://127.0.0.1:9/i", "http://localhost/i", "http://[::1]:9/i"]) {
        yield* build(quiet)
      }
      assert.deepStrictEqual(lines, [])
    }))

  it.scoped("answers are cached until exp, and never longer than 60 s by default", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(NOW * 1000)
      let exp = NOW + 30
      const server = yield* endpoint(() => ({ body: { ...active, exp } }))
      const v = Context.get(yield* Layer.build(IntrospectionVerifier.layer({ endpoint: server.url })), TokenVerifier.TokenVerifier)
      yield* verify(v)
      yield* verify(v)
      assert.strictEqual(server.seen.length, 1)
      // past exp the endpoint is asked again
      yield* TestClock.adjust("31 seconds")
      assertInvalid(yield* refusal(verify(v)), "expired")
      assert.strictEqual(server.seen.length, 2)
      // a long-lived token is re-asked after 60 s (revocation is seen within a minute)
      exp = NOW + 3600
      yield* verify(v)
      yield* TestClock.adjust("59 seconds")
      yield* verify(v)
      assert.strictEqual(server.seen.length, 3)
      yield* TestClock.adjust("2 seconds")
      yield* verify(v)
      assert.strictEqual(server.seen.length, 4)
    }))

  it.effect("configuration: a bad URL, or client_secret_basic without a secret → AuthConfigError", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* Effect.flip(IntrospectionVerifier.make({ endpoint: "not a url" }))).field, "endpoint")
      const e = yield* Effect.flip(IntrospectionVerifier.make({ endpoint: "https://as/introspect", clientAuthMethod: "client_secret_basic", clientId: "x" }))
      assert.strictEqual(e.field, "clientAuthMethod")
    }))
})
