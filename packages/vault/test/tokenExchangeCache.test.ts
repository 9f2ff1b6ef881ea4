/**
 * `TokenExchange`'s cache and checks, as a unit: the token endpoint is a stub `fetch` (the
 * end-to-end tests against a real provider are in tokenExchange.test.ts) and time is the
 * `TestClock`. How long an exchanged token is kept (its expiry less the margin, `maxTtl`, the
 * caller's own token), `capacity` (least recently used first, `0` for none), and the refusal of a
 * token of another type than the one asked for.
 */
import { assert, describe, it } from "@effect/vitest"
import { CredentialBackend, ResolvedCredential } from "@mcp-credentials/core"
import { ToolContext } from "@mcp-credentials/server"
import { Effect, Option, Redacted, TestClock } from "effect"
import { OAuthProvider, TokenExchange } from "../src/index.js"

interface Stub {
  readonly calls: Array<URLSearchParams>
  answer: (n: number) => Record<string, unknown>
}

const stubFetch = (stub: Stub) => async (_url: string, init: RequestInit) => {
  const form = new URLSearchParams(String(init.body))
  stub.calls.push(form)
  const { __status, ...body } = stub.answer(stub.calls.length) as Record<string, unknown> & { __status?: number }
  return new Response(JSON.stringify(body), { status: __status ?? 200, headers: { "content-type": "application/json" } })
}

const bearer = (n: number, expiresIn?: number) => ({
  access_token: `exchanged-${n}`,
  token_type: "Bearer",
  issued_token_type: "urn:ietf:params:oauth:token-type:access_token",
  ...(expiresIn === undefined ? {} : { expires_in: expiresIn })
})

const backendWith = (stub: Stub, options: Partial<TokenExchange.Options> = {}) =>
  TokenExchange.make({
    provider: {
      name: "idp",
      tokenEndpoint: "https://idp.example/token",
      clientId: "mcp-server",
      clientSecret: Redacted.make("server-secret"),
      fetch: stubFetch(stub)
    },
    ...(options.grant === "on-behalf-of" ? {} : { audience: "https://api.example" }),
    ...options
  })

/** Resolves as a call of the caller holding `token` (expiring at `expiresAt`, seconds) would. */
const resolveAs = (backend: CredentialBackend.CredentialBackend["Type"], token: string, expiresAt?: number) =>
  backend.resolve({ kind: "oauth" }).pipe(
    Effect.provideService(ToolContext.ToolContext, {
      authInfo: Option.some({ token: Redacted.make(token), clientId: "client", scopes: [], ...(expiresAt === undefined ? {} : { expiresAt }) })
    } as unknown as ToolContext.ToolContextShape),
    Effect.map((c) => (ResolvedCredential.isOAuth(c) ? Redacted.value(c.accessToken) : "static?"))
  )

describe("TokenExchange cache", () => {
  it.scoped("kept until expires_in less the margin; then exchanged again", () =>
    Effect.gen(function*() {
      const stub: Stub = { calls: [], answer: (n) => bearer(n, 300) }
      const backend = yield* backendWith(stub, { expiryMargin: "60 seconds" })
      assert.strictEqual(yield* resolveAs(backend, "alice"), "exchanged-1")
      yield* TestClock.adjust("239 seconds")
      assert.strictEqual(yield* resolveAs(backend, "alice"), "exchanged-1")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* resolveAs(backend, "alice"), "exchanged-2")
      assert.strictEqual(stub.calls[0]!.get("subject_token"), "alice")
    }))

  it.scoped("never beyond maxTtl, nor beyond the caller's own token", () =>
    Effect.gen(function*() {
      const stub: Stub = { calls: [], answer: (n) => bearer(n, 3600) }
      const backend = yield* backendWith(stub, { maxTtl: "2 minutes" })
      assert.strictEqual(yield* resolveAs(backend, "alice"), "exchanged-1")
      yield* TestClock.adjust("119 seconds")
      assert.strictEqual(yield* resolveAs(backend, "alice"), "exchanged-1")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* resolveAs(backend, "alice"), "exchanged-2")
      // bob's token expires 30 s from now: his exchanged token is not kept longer
      const now = (yield* TestClock.currentTimeMillis) / 1000
      assert.strictEqual(yield* resolveAs(backend, "bob", now + 30), "exchanged-3")
      yield* TestClock.adjust("29 seconds")
      assert.strictEqual(yield* resolveAs(backend, "bob", now + 30), "exchanged-3")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* resolveAs(backend, "bob", now + 30), "exchanged-4")
    }))

  it.scoped("an answer without expires_in is kept for maxTtl (5 minutes by default)", () =>
    Effect.gen(function*() {
      const stub: Stub = { calls: [], answer: (n) => bearer(n) }
      const backend = yield* backendWith(stub)
      assert.strictEqual(yield* resolveAs(backend, "alice"), "exchanged-1")
      yield* TestClock.adjust("299 seconds")
      assert.strictEqual(yield* resolveAs(backend, "alice"), "exchanged-1")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* resolveAs(backend, "alice"), "exchanged-2")
    }))

  it.scoped("capacity: the least recently used goes first; 0 exchanges on every call", () =>
    Effect.gen(function*() {
      const stub: Stub = { calls: [], answer: (n) => bearer(n, 600) }
      const backend = yield* backendWith(stub, { capacity: 2 })
      yield* resolveAs(backend, "a") // 1
      yield* resolveAs(backend, "b") // 2
      assert.strictEqual(yield* resolveAs(backend, "a"), "exchanged-1") // a used last
      yield* resolveAs(backend, "c") // 3: b goes
      assert.strictEqual(yield* resolveAs(backend, "a"), "exchanged-1")
      assert.strictEqual(yield* resolveAs(backend, "b"), "exchanged-4")
      const none: Stub = { calls: [], answer: (n) => bearer(n, 600) }
      const uncached = yield* backendWith(none, { capacity: 0 })
      yield* resolveAs(uncached, "a")
      yield* resolveAs(uncached, "a")
      assert.strictEqual(none.calls.length, 2)
      // on-behalf-of names the API by its scopes
      const noScopes = yield* Effect.flip(backendWith(none, { grant: "on-behalf-of" }))
      assert.strictEqual(noScopes.message, "OAuth provider idp: invalid scopes: on-behalf-of names the downstream API by its scopes: give at least one")
      const obo = yield* backendWith(none, { grant: "on-behalf-of", scopes: ["api://orders/.default"] })
      yield* resolveAs(obo, "carol")
      const sent = none.calls.at(-1)!
      assert.deepStrictEqual(
        [sent.get("grant_type"), sent.get("assertion"), sent.get("requested_token_use"), sent.get("scope"), sent.get("audience")],
        ["urn:ietf:params:oauth:grant-type:jwt-bearer", "carol", "on_behalf_of", "api://orders/.default", null]
      )
      const rfcOption = yield* Effect.flip(backendWith(none, { grant: "on-behalf-of", scopes: ["api://orders/.default"], audience: "x" }))
      assert.strictEqual(rfcOption.message, "OAuth provider idp: invalid audience: is RFC 8693's: on-behalf-of names the API by its scopes")
      for (const capacity of [Number.NaN, -1, 1.5]) {
        const error = yield* Effect.flip(backendWith(none, { capacity }))
        assert.strictEqual(error.message, "OAuth provider idp: invalid capacity: must be a whole number, 0 or more")
      }
    }))

  it.scoped("on-behalf-of: Entra's consent_required (or interaction_required) says the user must act; other refusals stay the provider's", () =>
    Effect.gen(function*() {
      const answers = [
        { __status: 400, error: "invalid_grant", suberror: "consent_required", error_description: "AADSTS65001: The user or administrator has not consented to use the application." },
        { __status: 400, error: "interaction_required", error_description: "AADSTS50076: multi-factor authentication required." },
        { __status: 400, error: "invalid_grant", error_description: "AADSTS50013: Assertion failed signature validation." }
      ]
      const stub: Stub = { calls: [], answer: (n) => answers[n - 1]! }
      const backend = yield* backendWith(stub, { grant: "on-behalf-of", scopes: ["api://orders/.default"] })
      for (const user of ["u1", "u2"]) {
        const e = yield* Effect.flip(resolveAs(backend, user))
        assert.strictEqual((e as { _tag: string; reason?: string })._tag, "TokenExchangeError")
        assert.strictEqual((e as { reason?: string }).reason, "interaction_required")
        assert.match(e.message, /^idp needs the user first: they must consent/)
      }
      const other = yield* Effect.flip(resolveAs(backend, "u3"))
      assert.strictEqual((other as { _tag: string })._tag, "OAuthTokenError")
      assert.match(other.message, /^OAuth provider idp refused the on-behalf-of request \(HTTP 400\): invalid_grant \(AADSTS50013/)
      // the suberror is in the provider's error too
      const consent = yield* Effect.flip(OAuthProvider.onBehalfOf(yield* OAuthProvider.make({
        name: "idp",
        tokenEndpoint: "https://idp.example/token",
        clientId: "c",
        clientSecret: Redacted.make("s"),
        fetch: stubFetch({ calls: [], answer: () => answers[0]! })
      }), { assertion: Redacted.make("user-token-0123456789"), scopes: ["api://orders/.default"] }))
      assert.match(consent.message, /^OAuth provider idp refused the on-behalf-of request \(HTTP 400\): invalid_grant\/consent_required \(AADSTS65001/)
    }))

  it.scoped("a token of another type than asked for is refused (issued_token_type, or a token_type other than Bearer)", () =>
    Effect.gen(function*() {
      for (
        const answer of [
          { access_token: "an-id-token", token_type: "N_A", issued_token_type: "urn:ietf:params:oauth:token-type:id_token" },
          { access_token: "a-dpop-token", token_type: "DPoP", issued_token_type: "urn:ietf:params:oauth:token-type:access_token" }
        ]
      ) {
        const stub: Stub = { calls: [], answer: () => answer }
        const backend = yield* backendWith(stub)
        const error = yield* Effect.flip(resolveAs(backend, "alice"))
        assert.strictEqual((error as { _tag: string })._tag, "TokenExchangeError")
        assert.notInclude(error.message, answer.access_token)
        // not kept: the next call asks again
        yield* Effect.flip(resolveAs(backend, "alice"))
        assert.strictEqual(stub.calls.length, 2)
      }
      // a lower-case bearer is a bearer
      const ok: Stub = { calls: [], answer: (n) => ({ ...bearer(n, 600), token_type: "bearer" }) }
      assert.strictEqual(yield* resolveAs(yield* backendWith(ok), "alice"), "exchanged-1")
    }))
})
