/**
 * The refresh on the tool call, end to end: a real MCP `Client` over real HTTP calls a tool of an
 * `McpHttpServer` (inbound bearer checked by `McpAuth`) that declares the user's downstream OAuth
 * credential, served by `TokenRefresh.layerBackend` from the vault. The stored token is expired;
 * 1,000 concurrent tool calls cause exactly one request to the real provider's token endpoint.
 */
import { afterAll, assert, beforeAll, describe, it, vi } from "@effect/vitest"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpServer from "@effect/platform/HttpServer"
import { McpAuth, StaticTokenVerifier, type TokenVerifier } from "@mcp-credentials/auth"
import { CredentialBackend, CurrentCredential, ResolvedCredential } from "@mcp-credentials/core"
import { McpCredentials, McpHttpServer } from "@mcp-credentials/server"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { Context, DateTime, Effect, Exit, Layer, Option, Redacted, Scope } from "effect"
import * as crypto from "node:crypto"
import { CredentialStore, OAuthProvider, TokenRefresh } from "../src/index.js"
import { downstream, type Harness, startProvider, tokensFor } from "./oauthHarness.js"

const INBOUND = { alice: "inbound-token-alice-0123456789", bob: "inbound-token-bob-0123456789" }
const digest = (s: string) => crypto.createHash("sha256").update(s).digest("hex").slice(0, 16)

let h: Harness
let provider: OAuthProvider.OAuthProvider
let store: CredentialStore.CredentialStore["Type"]
let base: URL
let scope: Scope.CloseableScope

beforeAll(async () => {
  vi.spyOn(console, "warn").mockImplementation(() => undefined)
  vi.spyOn(console, "info").mockImplementation(() => undefined)
  h = await startProvider()
  provider = await Effect.runPromise(downstream(h))
  store = await Effect.runPromise(CredentialStore.makeMemory)
  scope = Effect.runSync(Scope.make())

  const build = (runtime: any) => {
    const server = new McpServer({ name: "downstream-oauth", version: "1" })
    const creds = McpCredentials.install(server, { runtime })
    creds.registerTool("downstream_whoami", { description: "calls the downstream API", credentials: { downstream: "oauth" } }, () =>
      Effect.gen(function*() {
        const c = yield* CurrentCredential.getOAuth("downstream")
        // a real tool would call the API with it; we report a digest (the token itself is scrubbed)
        return { token: digest(Redacted.value(c.accessToken)) }
      }))
    return server
  }
  const verifier = StaticTokenVerifier.layer({
    tokens: [
      { token: Redacted.make(INBOUND.alice), subject: "alice" },
      { token: Redacted.make(INBOUND.bob), subject: "bob" }
    ]
  })
  const services = Layer.mergeAll(
    verifier,
    CredentialBackend.layerNamed("downstream", TokenRefresh.layerBackend("downstream")).pipe(
      Layer.provide(TokenRefresh.layer({ providers: [provider] })),
      Layer.provide(Layer.succeed(CredentialStore.CredentialStore, store))
    )
  )
  const live = McpHttpServer.serve<TokenVerifier.TokenVerifier | CredentialBackend.Named<"downstream">>({
    server: build,
    allowedHosts: "any",
    enableJsonResponse: true,
    authenticate: McpAuth.authenticate()
  }).pipe(
    Layer.provideMerge(NodeHttpServer.layer(McpHttpServer.createClosingServer, { port: 0, host: "127.0.0.1", backlog: 2048 })),
    Layer.provide(services)
  )
  const ctx = await Effect.runPromise(Layer.buildWithScope(live, scope))
  const address = Context.get(ctx, HttpServer.HttpServer).address as { port: number }
  base = new URL(`http://127.0.0.1:${address.port}/mcp`)
})

afterAll(async () => {
  await Effect.runPromise(Scope.close(scope, Exit.void))
  await h.close()
  vi.restoreAllMocks()
})

const connect = async (token: string) => {
  const client = new Client({ name: "refresh-test", version: "1" })
  await client.connect(new StreamableHTTPClientTransport(base, { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
  return client
}
const textOf = (result: any): string => result.content?.[0]?.text ?? ""

describe("refresh on the tool call, through a real MCP client over HTTP", () => {
  it.live("1,000 concurrent tool calls on an expired token: exactly 1 token request, every call gets the new token", () =>
    Effect.gen(function*() {
      const key = { provider: "downstream", subject: "alice" }
      const c = yield* OAuthProvider.toCredential(provider, yield* tokensFor(provider, "alice"))
      const expired = new ResolvedCredential.OAuthCredential({ ...c, expiresAt: DateTime.unsafeMake(Date.now() - 1000) })
      yield* store.set(key, expired)
      const client = yield* Effect.promise(() => connect(INBOUND.alice))
      const before = h.tokenRequests()
      // a slow provider: the refresh is still in flight while the other calls arrive
      h.setTokenDelay(500)
      const started = Date.now()
      const results = yield* Effect.promise(() =>
        Promise.all(Array.from({ length: 1000 }, () => client.callTool({ name: "downstream_whoami", arguments: {} })))
      ).pipe(Effect.ensuring(Effect.sync(() => h.setTokenDelay(0))))
      const elapsed = Date.now() - started
      assert.strictEqual(h.tokenRequests() - before, 1, "exactly one request reached the token endpoint")
      const failed = results.find((r: any) => r.isError === true)
      assert.isUndefined(failed, failed === undefined ? "" : textOf(failed))
      const seen = new Set(results.map((r: any) => (r.structuredContent as { token: string }).token))
      assert.strictEqual(seen.size, 1)
      const stored = Option.getOrThrow(yield* store.get(key)).credential as ResolvedCredential.OAuthCredential
      assert.deepStrictEqual([...seen], [digest(Redacted.value(stored.accessToken))])
      assert.notStrictEqual([...seen][0], digest(Redacted.value(expired.accessToken)))
      // later calls use the stored token: no further request
      yield* Effect.promise(() => client.callTool({ name: "downstream_whoami", arguments: {} }))
      assert.strictEqual(h.tokenRequests() - before, 1)
      assert.strictEqual(h.reuses(), 0)
      console.log(`[refreshMcp] 1000 concurrent tool calls with one refresh: ${elapsed} ms`)
      yield* Effect.promise(() => client.close())
    }), 180_000)

  it.live("a user with no stored token gets a tool error naming the provider (no token request); a dead token asks for re-authorization", () =>
    Effect.gen(function*() {
      const client = yield* Effect.promise(() => connect(INBOUND.bob))
      const before = h.tokenRequests()
      const none = yield* Effect.promise(() => client.callTool({ name: "downstream_whoami", arguments: {} }))
      assert.isTrue(none.isError)
      assert.include(textOf(none), "downstream authorization")
      assert.include(textOf(none), "authorize first")
      assert.strictEqual(h.tokenRequests(), before)

      yield* store.set({ provider: "downstream", subject: "bob" }, new ResolvedCredential.OAuthCredential({
        type: "oauth",
        accessToken: Redacted.make("at-bob-dead-0123456789"),
        refreshToken: Redacted.make("rt-bob-dead-0123456789"),
        expiresAt: DateTime.unsafeMake(Date.now() - 1000),
        extra: {}
      }))
      const dead = yield* Effect.promise(() => client.callTool({ name: "downstream_whoami", arguments: {} }))
      assert.isTrue(dead.isError)
      assert.include(textOf(dead), "invalid_grant")
      assert.include(textOf(dead), "authorize again")
      assert.notInclude(JSON.stringify(dead), "rt-bob-dead")
      assert.strictEqual(h.tokenRequests() - before, 1)
      yield* Effect.promise(() => client.close())
    }))
})
