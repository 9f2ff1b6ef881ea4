/**
 * ClientAuth with a real MCP `Client` over real HTTP against our server (McpHttpServer +
 * McpAuth): bearer auth with a static-token verifier, and OAuth client credentials against a real
 * OpenID provider (oidc-provider on loopback) whose JWT access tokens the server verifies through
 * its JWKS, the client finding the provider through the server's protected-resource metadata.
 */
import { afterAll, assert, beforeAll, describe, it, vi } from "@effect/vitest"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { McpCredentials, McpHttpServer } from "@mcp-credentials/server"
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from "@modelcontextprotocol/client"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { Effect, Exit, Layer, Redacted, Scope } from "effect"
import * as jose from "jose"
// @ts-expect-error oidc-provider ships no type declarations
import Provider from "oidc-provider"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import { AccessToken, ClientAuth, JwtVerifier, McpAuth, StaticTokenVerifier, type TokenVerifier } from "../src/index.js"

const M2M = { id: "m2m-client", secret: "m2m-client-secret-0123456789" }
const BEARER = "static-bearer-token-0123456789"

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer()
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as AddressInfo
      s.close(() => resolve(port))
    })
  })

const build = (runtime: any) => {
  const server = new McpServer({ name: "client-auth", version: "1" })
  const creds = McpCredentials.install(server, { runtime, context: McpAuth.toolServices })
  creds.registerTool("who", { description: "the caller" }, () =>
    Effect.map(AccessToken.CurrentAccessToken, (t) => ({ clientId: t.clientId, subject: t.subject ?? null, scopes: [...t.scopes] })))
  return server
}

/** Our server on `port`, authenticating with `verifier`, serving protected-resource metadata. */
const startMcp = async (port: number, verifier: Layer.Layer<TokenVerifier.TokenVerifier, unknown>, authorizationServers: Array<string>) => {
  const scope = Effect.runSync(Scope.make())
  const resource = `http://127.0.0.1:${port}/mcp`
  const live = McpHttpServer.serve<TokenVerifier.TokenVerifier>({
    server: build,
    allowedHosts: "any",
    authenticate: McpAuth.authenticate({ resource, resourceMetadataUrl: McpAuth.resourceMetadataUrl(resource) }),
    routes: McpAuth.wellKnownRouter({ resource, authorizationServers, scopesSupported: ["tools:read"] })
  }).pipe(
    Layer.provideMerge(NodeHttpServer.layer(McpHttpServer.createClosingServer, { port, host: "127.0.0.1" })),
    Layer.provide(verifier)
  )
  await Effect.runPromise(Layer.buildWithScope(live, scope) as Effect.Effect<any, any>)
  return { url: new URL(resource), close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

type Who = { clientId: string; subject: string | null; scopes: Array<string> }

/** Connects `client` over `transport`, calls `who`, closes. */
const callWith = async <T>(
  client: { connect(transport: T): Promise<void>; callTool(params: { name: string; arguments: {} }): Promise<unknown>; close(): Promise<void> },
  transport: T
): Promise<Who> => {
  await client.connect(transport)
  try {
    return ((await client.callTool({ name: "who", arguments: {} })) as { structuredContent: Who }).structuredContent
  } finally {
    await client.close()
  }
}

const call = (url: URL, options: ConstructorParameters<typeof StreamableHTTPClientTransport>[1]) =>
  callWith(new Client({ name: "client-auth-test", version: "1" }), new StreamableHTTPClientTransport(url, options))

/** The same call with the v2 SDK's client (2025 era against this v1 server). */
const callV2 = (url: URL, options: ConstructorParameters<typeof TransportV2>[1]) =>
  callWith(new ClientV2({ name: "client-auth-test-v2", version: "1" }), new TransportV2(url, options))

describe("ClientAuth.bearer", () => {
  let mcp: Awaited<ReturnType<typeof startMcp>>
  beforeAll(async () => {
    mcp = await startMcp(
      await freePort(),
      StaticTokenVerifier.layer({ tokens: [{ token: Redacted.make(BEARER), subject: "svc-1", clientId: "svc" }] }),
      []
    )
  })
  afterAll(() => mcp.close())

  it.live("a real Client with a bearer token calls a tool; the server sees the caller", () =>
    Effect.promise(async () => {
      const who = await call(mcp.url, ClientAuth.bearer(Redacted.make(BEARER)))
      assert.deepStrictEqual(who, { clientId: "svc", subject: "svc-1", scopes: [] })
      // a token function is asked on every request
      let asked = 0
      await call(mcp.url, ClientAuth.bearer(() => (asked++, Redacted.make(BEARER))))
      assert.isAtLeast(asked, 2)
    }))

  it.live("the same options work with the v2 SDK's client (@modelcontextprotocol/client)", () =>
    Effect.promise(async () => {
      const who = await callV2(mcp.url, ClientAuth.bearer(Redacted.make(BEARER)))
      assert.deepStrictEqual(who, { clientId: "svc", subject: "svc-1", scopes: [] })
    }))

  it.live("a wrong token: connect fails with 401 and the error does not carry the token", () =>
    Effect.promise(async () => {
      const client = new Client({ name: "c", version: "1" })
      const error = await client
        .connect(new StreamableHTTPClientTransport(mcp.url, ClientAuth.bearer(Redacted.make("wrong-token-0123456789"))))
        .then(() => undefined, (e: unknown) => e as Error)
      assert.isDefined(error)
      assert.strictEqual((error as { code?: number }).code, 401)
      assert.include(String(error), "invalid_token")
      assert.notInclude(String(error), "wrong-token-0123456789")
    }))

  it.live("fix: a token a header cannot carry (CR, LF, NUL, a control or non-Latin-1 character) fails before any request, without quoting the token", () =>
    Effect.promise(async () => {
      for (const bad of ["sk-live-SECRET\nabc", "sk-live-SECRET\r\nX-Injected: 1", "sk-live-SECRET\u0000", "sk-live-SECRET\u0001", "sk-live-SECRET\u20ac"]) {
        let sent = 0
        const { fetch } = ClientAuth.bearer(Redacted.make(bad), { fetch: (url, init) => (sent++, globalThis.fetch(url, init)) })
        const error = await fetch(mcp.url, { method: "POST" }).then(() => undefined, (e: unknown) => e as Error)
        assert.instanceOf(error, Error, JSON.stringify(bad))
        assert.include(error!.message, "cannot be sent in an HTTP header")
        assert.notInclude(`${error!.message} ${error!.stack ?? ""}`, "sk-live-SECRET")
        assert.strictEqual(sent, 0, "nothing was sent")
      }
      // a trailing newline (a token read from a file) is dropped, as Headers did: the real client still connects
      const who = await call(mcp.url, ClientAuth.bearer(Redacted.make(`${BEARER}\n`)))
      assert.strictEqual(who.subject, "svc-1")
    }))
})

describe("ClientAuth.clientCredentials against oidc-provider", () => {
  let issuer: string
  let oidc: Server
  let tokenRequests = 0
  let mcp: Awaited<ReturnType<typeof startMcp>>

  beforeAll(async () => {
    vi.spyOn(console, "warn").mockImplementation(() => undefined)
    vi.spyOn(console, "info").mockImplementation(() => undefined)
    const port = await freePort()
    const resource = `http://127.0.0.1:${port}/mcp`
    const { privateKey } = await jose.generateKeyPair("RS256", { extractable: true })
    const key = { ...(await jose.exportJWK(privateKey)), kid: "k1", alg: "RS256", use: "sig" }
    let provider: any
    oidc = createServer((req, res) => {
      if (req.method === "POST" && req.url === "/token") tokenRequests++
      provider.callback()(req, res)
    })
    await new Promise<void>((resolve) => oidc.listen(0, "127.0.0.1", resolve))
    issuer = `http://127.0.0.1:${(oidc.address() as AddressInfo).port}`
    provider = new Provider(issuer, {
      clients: [{
        client_id: M2M.id,
        client_secret: M2M.secret,
        grant_types: ["client_credentials"],
        redirect_uris: [],
        response_types: [],
        scope: "tools:read"
      }],
      jwks: { keys: [key] },
      scopes: ["tools:read"],
      features: {
        devInteractions: { enabled: false },
        clientCredentials: { enabled: true },
        resourceIndicators: {
          enabled: true,
          defaultResource: () => resource,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx: unknown, r: string) => ({
            scope: "tools:read",
            audience: r,
            accessTokenTTL: 600,
            accessTokenFormat: "jwt"
          })
        }
      }
    })
    mcp = await startMcp(
      port,
      JwtVerifier.layer({ jwksUri: `${issuer}/jwks`, issuer, audience: resource, typ: "at+jwt" }),
      [issuer]
    )
  })
  afterAll(async () => {
    await mcp.close()
    oidc.closeAllConnections()
    await new Promise((resolve) => oidc.close(resolve))
    vi.restoreAllMocks()
  })

  it.live("the SDK gets a token for the server's resource after the 401 and retries; one token for many calls", () =>
    Effect.promise(async () => {
      const before = tokenRequests
      const auth = ClientAuth.clientCredentials({
        clientId: M2M.id,
        clientSecret: Redacted.make(M2M.secret),
        issuer,
        scopes: ["tools:read"]
      })
      const client = new Client({ name: "m2m", version: "1" })
      await client.connect(new StreamableHTTPClientTransport(mcp.url, auth))
      for (let i = 0; i < 5; i++) {
        const r = await client.callTool({ name: "who", arguments: {} })
        const who = r.structuredContent as { clientId: string; scopes: Array<string> }
        assert.strictEqual(who.clientId, M2M.id)
        assert.deepStrictEqual(who.scopes, ["tools:read"])
      }
      await client.close()
      assert.strictEqual(tokenRequests - before, 1)
      assert.notInclude(JSON.stringify(auth), M2M.secret)
    }))

  it.live("the v2 SDK's client (@modelcontextprotocol/client) drives the same provider", () =>
    Effect.promise(async () => {
      const before = tokenRequests
      const who = await callV2(mcp.url, ClientAuth.clientCredentials({
        clientId: M2M.id,
        clientSecret: Redacted.make(M2M.secret),
        issuer,
        scopes: ["tools:read"]
      }))
      assert.strictEqual(who.clientId, M2M.id)
      assert.deepStrictEqual(who.scopes, ["tools:read"])
      assert.strictEqual(tokenRequests - before, 1)
    }))

  it.live("client_secret_post works too; a wrong secret fails without the secret in the error", () =>
    Effect.promise(async () => {
      const post = await call(mcp.url, ClientAuth.clientCredentials({
        clientId: M2M.id,
        clientSecret: Redacted.make(M2M.secret),
        issuer,
        authMethod: "client_secret_post"
      }))
      assert.strictEqual(post.clientId, M2M.id)

      const client = new Client({ name: "m2m-wrong", version: "1" })
      const error = await client
        .connect(new StreamableHTTPClientTransport(mcp.url, ClientAuth.clientCredentials({
          clientId: M2M.id,
          clientSecret: Redacted.make("wrong-secret-0123456789"),
          issuer
        })))
        .then(() => undefined, (e: unknown) => e as Error)
      assert.isDefined(error)
      assert.notInclude(String(error), "wrong-secret-0123456789")
    }))

  it.live("credentials are never sent to an authorization server other than the expected issuer", () =>
    Effect.promise(async () => {
      const before = tokenRequests
      const client = new Client({ name: "m2m-elsewhere", version: "1" })
      const error = await client
        .connect(new StreamableHTTPClientTransport(mcp.url, ClientAuth.clientCredentials({
          clientId: M2M.id,
          clientSecret: Redacted.make(M2M.secret),
          issuer: "https://some-other-issuer.example"
        })))
        .then(() => undefined, (e: unknown) => e as Error)
      assert.isDefined(error)
      assert.strictEqual(tokenRequests, before)
    }))
})

describe("ClientAuth.clientCredentials — token lifetime", () => {
  it("fix: a token is used until shortly before it expires, also one that lives only a few seconds", async () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ["Date"] })
    try {
      const { authProvider } = ClientAuth.clientCredentials({ clientId: "c", clientSecret: Redacted.make("s"), issuer: "https://as.example" })
      // 5 s: renewed after half its life (a flat 10 s margin dropped it at once: never sent)
      await authProvider.saveTokens({ access_token: "short", token_type: "bearer", expires_in: 5 })
      assert.strictEqual((await authProvider.tokens())?.access_token, "short")
      vi.advanceTimersByTime(2_400)
      assert.strictEqual((await authProvider.tokens())?.access_token, "short")
      vi.advanceTimersByTime(200)
      assert.isUndefined(await authProvider.tokens())
      // 1 h: renewed 10 s early
      await authProvider.saveTokens({ access_token: "long", token_type: "bearer", expires_in: 3600 })
      vi.advanceTimersByTime(3_589_000)
      assert.strictEqual((await authProvider.tokens())?.access_token, "long")
      vi.advanceTimersByTime(1_000)
      assert.isUndefined(await authProvider.tokens())
    } finally {
      vi.useRealTimers()
    }
  })
})
