/**
 * On-behalf-of credentials (RFC 8693) end to end: a real OpenID provider (`oidc-provider`) signs
 * users in (authorization code + PKCE through its own login and consent pages) and exchanges
 * tokens (its token endpoint with the token-exchange grant registered, as a deployment of it
 * would); the MCP server (`McpHttpServer` + `McpAuth` verifying the users' tokens by
 * introspection at that provider) resolves a tool's credential with `TokenExchange`; the tool
 * calls a downstream API that accepts only tokens issued for it and answers with whom it sees.
 * Real MCP clients over loopback HTTP. Also: the exchanged token is kept per caller and shared by
 * concurrent calls, exchanged again once expired, the provider's refusal reaches the client
 * without any token, and a call with no verified token or a static declaration is refused.
 */
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { afterAll, assert, beforeAll, describe, it, vi } from "@effect/vitest"
import { IntrospectionVerifier, McpAuth } from "@mcp-credentials/auth"
import { CredentialBackend, ResolvedCredential } from "@mcp-credentials/core"
import { McpCredentials, McpCredentialsV2, McpHttpServer, McpHttpServerV2 } from "@mcp-credentials/server"
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from "@modelcontextprotocol/client"
import { McpServer as McpServerV2 } from "@modelcontextprotocol/server"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { Context, Effect, Exit, Layer, ManagedRuntime, Redacted, Scope } from "effect"
import * as jose from "jose"
// @ts-expect-error oidc-provider ships no type declarations
import Provider, { errors } from "oidc-provider"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { OAuthProvider, OAuthProviderError, TokenExchange } from "../src/index.js"
import { authorize } from "./oauthHarness.js"
import { textOf } from "./stack.js"

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
const ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
const APP = { id: "mcp-client-app", secret: "mcp-client-app-secret-0123456789" }
const SERVER = { id: "mcp-server", secret: "mcp-server-secret-0123456789abcdef" }
const REDIRECT_URI = "http://127.0.0.1:9/callback"
const ORDERS = "https://orders.example.test"
const SHORT = "https://short.example.test"
const FORBIDDEN = "https://forbidden.example.test"

interface Exchange {
  readonly client: string
  readonly params: Record<string, unknown>
}

let idpServer: Server
let issuer: string
let provider: any
let signingKey: CryptoKey
let publicJwk: jose.JWK
const exchanges: Array<Exchange> = []
let exchangeDelay = 0

const listen = async (handler: (req: IncomingMessage, res: ServerResponse) => void) => {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

const closeServer = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })

/** The identity provider: users sign in for the MCP client app; the MCP server exchanges their tokens. */
const startIdp = async () => {
  const { privateKey, publicKey } = await jose.generateKeyPair("RS256")
  signingKey = privateKey
  publicJwk = { ...(await jose.exportJWK(publicKey)), kid: "exchange-key", alg: "RS256" }
  const started = await listen((req, res) => provider.callback()(req, res))
  idpServer = started.server
  issuer = started.url
  provider = new Provider(issuer, {
    clients: [
      {
        client_id: APP.id,
        client_secret: APP.secret,
        grant_types: ["authorization_code"],
        redirect_uris: [REDIRECT_URI],
        response_types: ["code"]
      },
      {
        client_id: SERVER.id,
        client_secret: SERVER.secret,
        grant_types: [TOKEN_EXCHANGE, JWT_BEARER],
        redirect_uris: [],
        response_types: [],
        token_endpoint_auth_method: "client_secret_basic"
      }
    ],
    scopes: ["openid", "orders:read", "orders:write"],
    pkce: { required: () => true },
    findAccount: async (_ctx: unknown, id: string) => ({ accountId: id, claims: async () => ({ sub: id }) }),
    features: { devInteractions: { enabled: true }, introspection: { enabled: true } },
    ttl: { AccessToken: 3600, AuthorizationCode: 60, Grant: 3600, Interaction: 600, Session: 3600, IdToken: 3600 }
  })
  // the token-exchange grant as a deployment registers it: the subject token must be one of this
  // provider's live access tokens; the new token is a JWT for the audience asked, naming the user
  // and the exchanging client (`act`)
  provider.registerGrantType(
    TOKEN_EXCHANGE,
    async (ctx: any) => {
      const params = { ...ctx.oidc.params }
      exchanges.push({ client: ctx.oidc.client.clientId, params })
      if (params.subject_token_type !== ACCESS_TOKEN) throw new errors.InvalidRequest("unsupported subject_token_type")
      const subject = await provider.AccessToken.find(params.subject_token)
      if (subject === undefined) throw new errors.InvalidGrant(`subject token ${params.subject_token} is not active`)
      const audiences = ([] as Array<string>).concat(params.audience ?? [])
      if (audiences.includes(FORBIDDEN)) {
        // an error description that echoes the subject token: the client must not pass it on
        throw new errors.InvalidTarget(`no exchange to ${FORBIDDEN} for ${params.subject_token}`)
      }
      if (exchangeDelay > 0) await new Promise((resolve) => setTimeout(resolve, exchangeDelay))
      const ttl = audiences.includes(SHORT) ? 2 : 600
      const accessToken = await new jose.SignJWT({ scope: params.scope, act: { sub: ctx.oidc.client.clientId } })
        .setProtectedHeader({ alg: "RS256", kid: "exchange-key", typ: "at+jwt" })
        .setIssuer(issuer)
        .setSubject(subject.accountId)
        .setAudience(audiences.length === 1 ? audiences[0]! : audiences)
        .setIssuedAt()
        .setExpirationTime(`${ttl}s`)
        .setJti(crypto.randomUUID())
        .sign(signingKey)
      ctx.body = {
        access_token: accessToken,
        issued_token_type: ACCESS_TOKEN,
        token_type: "Bearer",
        expires_in: ttl,
        ...(params.scope === undefined ? {} : { scope: params.scope })
      }
    },
    ["subject_token", "subject_token_type", "requested_token_type", "audience", "resource", "scope", "actor_token", "actor_token_type"],
    ["audience", "resource"]
  )
  // Entra ID's on-behalf-of, as it answers it: the user's token as `assertion`, the API named by
  // `<resource>/.default` in `scope`; a plain token response (no issued_token_type)
  provider.registerGrantType(
    JWT_BEARER,
    async (ctx: any) => {
      const params = { ...ctx.oidc.params }
      exchanges.push({ client: ctx.oidc.client.clientId, params: { ...params, audience: `obo:${params.scope}` } })
      if (params.requested_token_use !== "on_behalf_of") throw new errors.InvalidRequest("requested_token_use must be on_behalf_of")
      const subject = await provider.AccessToken.find(params.assertion)
      if (subject === undefined) throw new errors.InvalidGrant("the assertion is not an active token")
      const audience = String(params.scope ?? "").replace(/\/\.default$/, "")
      const accessToken = await new jose.SignJWT({ scope: "orders:read", act: { sub: ctx.oidc.client.clientId } })
        .setProtectedHeader({ alg: "RS256", kid: "exchange-key", typ: "at+jwt" })
        .setIssuer(issuer)
        .setSubject(subject.accountId)
        .setAudience(audience)
        .setIssuedAt()
        .setExpirationTime("600s")
        .sign(signingKey)
      ctx.body = { access_token: accessToken, token_type: "Bearer", expires_in: 600 }
    },
    ["assertion", "requested_token_use", "scope"]
  )
}

/** A user's access token for the MCP server: the authorization code flow at the provider. */
const signIn = async (user: string): Promise<string> => {
  const pkce = Effect.runSync(OAuthProvider.makePkce)
  const url = new URL(`${issuer}/auth`)
  url.search = new URLSearchParams({
    client_id: APP.id,
    response_type: "code",
    redirect_uri: REDIRECT_URI,
    scope: "openid orders:read",
    state: "s",
    code_challenge: pkce.challenge,
    code_challenge_method: "S256"
  }).toString()
  const back = await authorize(url, user)
  const code = back.searchParams.get("code")
  if (code === null) throw new Error(`no code: ${back.searchParams.get("error")}`)
  const res = await fetch(`${issuer}/token`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Basic ${Buffer.from(`${APP.id}:${APP.secret}`).toString("base64")}`
    },
    body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: REDIRECT_URI, code_verifier: Redacted.value(pkce.verifier) })
  })
  const json = (await res.json()) as { access_token?: string }
  if (json.access_token === undefined) throw new Error(`no access token: ${JSON.stringify(json)}`)
  return json.access_token
}

// -- the downstream API: accepts only exchanged tokens issued for it -------------------------------------

let api: { server: Server; url: string }
const apiSeen: Array<string> = []

const startApi = async () => {
  const key = await jose.importJWK(publicJwk, "RS256")
  api = await listen(async (req, res) => {
    const auth = req.headers.authorization ?? ""
    apiSeen.push(auth)
    const audience = req.url === "/short" ? SHORT : ORDERS
    try {
      const { payload } = await jose.jwtVerify(auth.replace(/^Bearer /, ""), key, { issuer, audience, typ: "at+jwt" })
      res.writeHead(200, { "content-type": "application/json" })
      res.end(JSON.stringify({ sub: payload.sub, act: (payload.act as { sub?: string } | undefined)?.sub, scope: payload.scope }))
    } catch (e) {
      res.writeHead(401, { "content-type": "application/json" })
      res.end(JSON.stringify({ error: String((e as Error).message) }))
    }
  })
}

// -- the MCP server ------------------------------------------------------------------------------------

const server = { id: SERVER.id, secret: Redacted.make(SERVER.secret) }
const idpProvider = () => ({ name: "idp", issuer, clientId: server.id, clientSecret: server.secret })

const backends = () =>
  Layer.mergeAll(
    CredentialBackend.layerNamed("orders", TokenExchange.layer({ provider: idpProvider(), audience: ORDERS, scopes: ["orders:read"] })),
    CredentialBackend.layerNamed(
      "short",
      TokenExchange.layer({ provider: idpProvider(), audience: SHORT, expiryMargin: "0 seconds" })
    ),
    CredentialBackend.layerNamed("forbidden", TokenExchange.layer({ provider: idpProvider(), audience: FORBIDDEN })),
    CredentialBackend.layerNamed(
      "orders_obo",
      TokenExchange.layer({ provider: idpProvider(), grant: "on-behalf-of", scopes: [`${ORDERS}/.default`] })
    )
  )

const callApi = async (name: string, path: string) => {
  const credential = McpCredentials.getCredentials(name)
  if (!ResolvedCredential.isOAuth(credential)) throw new Error("expected an OAuth credential")
  const res = await fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${Redacted.value(credential.accessToken)}` } })
  const body = (await res.json()) as Record<string, unknown>
  return `HTTP ${res.status} ${JSON.stringify(body)}`
}

const makeServer = (runtime: any) => {
  const mcp = new McpServer({ name: "token-exchange-test", version: "0.1.0" })
  const tools = McpCredentials.install(mcp, { runtime })
  tools.registerTool("orders_whoami", { description: "Who the orders API sees.", credentials: { orders: "oauth" } }, async () =>
    callApi("orders", "/"))
  tools.registerTool("short_whoami", { description: "The same with a 2-second token.", credentials: { short: "oauth" } }, async () =>
    callApi("short", "/short"))
  tools.registerTool("orders_obo_whoami", { description: "The same through on-behalf-of.", credentials: { orders_obo: "oauth" } }, async () =>
    callApi("orders_obo", "/"))
  tools.registerTool("forbidden", { description: "An audience the provider refuses.", credentials: { forbidden: "oauth" } }, async () =>
    "unreachable")
  tools.registerTool("orders_static", { description: "A static declaration.", credentials: { orders: "static" } }, async () =>
    "unreachable")
  tools.registerTool("orders_echo", { description: "A careless tool.", credentials: { orders: "oauth" } }, async () => {
    const credential = McpCredentials.getCredentials("orders")
    return `the token is ${ResolvedCredential.isOAuth(credential) ? Redacted.value(credential.accessToken) : ""}`
  })
  return mcp
}

/** The same tool on the v2 SDK line (2026-07-28). */
const makeServerV2 = (runtime: any) => {
  const mcp = new McpServerV2({ name: "token-exchange-test-v2", version: "0.1.0" })
  const tools = McpCredentialsV2.install(mcp, { runtime })
  tools.registerTool("orders_whoami", { description: "Who the orders API sees.", credentials: { orders: "oauth" } }, async () => {
    const credential = McpCredentialsV2.getCredentials("orders")
    if (!ResolvedCredential.isOAuth(credential)) throw new Error("expected an OAuth credential")
    const res = await fetch(api.url, { headers: { authorization: `Bearer ${Redacted.value(credential.accessToken)}` } })
    return `HTTP ${res.status} ${JSON.stringify(await res.json())}`
  })
  return mcp
}

let scope: Scope.CloseableScope
let mcpUrl: URL
let mcpUrlV2: URL
const tokens: Record<string, string> = {}

beforeAll(async () => {
  vi.spyOn(console, "warn").mockImplementation(() => undefined)
  await startIdp()
  await startApi()
  for (const user of ["alice", "bob", "carol", "dave", "erin"]) tokens[user] = await signIn(user)
  scope = Effect.runSync(Scope.make())
  const httpCtx = await Effect.runPromise(
    Layer.buildWithScope(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }), scope)
  )
  const address = Context.get(httpCtx, HttpServer.HttpServer).address
  if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  mcpUrl = new URL(`http://127.0.0.1:${address.port}/mcp`)
  const httpCtxV2 = await Effect.runPromise(
    Layer.buildWithScope(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }), scope)
  )
  const addressV2 = Context.get(httpCtxV2, HttpServer.HttpServer).address
  if (addressV2._tag !== "TcpAddress") throw new Error("expected a TCP address")
  mcpUrlV2 = new URL(`http://127.0.0.1:${addressV2.port}/mcp`)
  const app = Layer.mergeAll(
    IntrospectionVerifier.layer({ endpoint: `${issuer}/token/introspection`, clientId: server.id, clientSecret: server.secret, issuer, audience: false }),
    backends()
  )
  const served = McpHttpServer.serve({
    server: makeServer,
    allowedHosts: McpHttpServer.localhostNames,
    authenticate: McpAuth.authenticate({})
  }).pipe(Layer.provideMerge(app), Layer.provide(Layer.succeedContext(httpCtx)))
  const ctx = await Effect.runPromise(Layer.buildWithScope(served, scope))
  const servedV2 = McpHttpServerV2.serve({
    server: makeServerV2,
    allowedHosts: McpHttpServerV2.localhostNames,
    authenticate: McpAuth.authenticate({})
  }).pipe(Layer.provide(Layer.succeedContext(ctx)), Layer.provide(Layer.succeedContext(httpCtxV2)))
  await Effect.runPromise(Layer.buildWithScope(servedV2, scope))
}, 60_000)

afterAll(async () => {
  if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
  if (api !== undefined) await closeServer(api.server)
  if (idpServer !== undefined) await closeServer(idpServer)
})

const connect = async (user: string) => {
  const client = new Client({ name: "token-exchange-client", version: "1.0.0" })
  await client.connect(new StreamableHTTPClientTransport(mcpUrl, { requestInit: { headers: { authorization: `Bearer ${tokens[user]}` } } }))
  return client
}

const exchangesOf = (audience: string) => exchanges.filter((e) => ([] as Array<unknown>).concat(e.params.audience).includes(audience))

describe("TokenExchange", () => {
  it("a tool calls the downstream API as its caller with a token exchanged for that API", async () => {
    const before = exchangesOf(ORDERS).length
    const client = await connect("alice")
    try {
      const result = await client.callTool({ name: "orders_whoami", arguments: {} })
      assert.isNotTrue(result.isError, textOf(result))
      assert.strictEqual(textOf(result), `HTTP 200 {"sub":"alice","act":"${SERVER.id}","scope":"orders:read"}`)
      const [sent] = exchangesOf(ORDERS).slice(before)
      assert.isDefined(sent)
      // the MCP server authenticated as itself and sent the grant's fields
      assert.strictEqual(sent!.client, SERVER.id)
      assert.strictEqual(sent!.params.subject_token, tokens.alice!)
      assert.strictEqual(sent!.params.subject_token_type, ACCESS_TOKEN)
      assert.strictEqual(sent!.params.requested_token_type, ACCESS_TOKEN)
      assert.strictEqual(sent!.params.scope, "orders:read")
      // the API got the exchanged token, never the user's own
      assert.notInclude(apiSeen.join("\n"), tokens.alice!)
    } finally {
      await client.close()
    }
  })

  it("grant: \"on-behalf-of\" (Entra ID's jwt-bearer grant): the API sees the caller, the request carries the assertion and requested_token_use", async () => {
    const before = exchanges.length
    const client = await connect("alice")
    try {
      const result = await client.callTool({ name: "orders_obo_whoami", arguments: {} })
      assert.strictEqual(textOf(result), `HTTP 200 {"sub":"alice","act":"${SERVER.id}","scope":"orders:read"}`)
      const sent = exchanges.slice(before).find((e) => e.params.grant_type === JWT_BEARER)
      assert.isDefined(sent)
      assert.strictEqual(sent!.client, SERVER.id)
      assert.strictEqual(sent!.params.assertion, tokens.alice)
      assert.strictEqual(sent!.params.requested_token_use, "on_behalf_of")
      assert.strictEqual(sent!.params.scope, `${ORDERS}/.default`)
    } finally {
      await client.close()
    }
  })

  it("the same on the v2 SDK line (2026-07-28)", async () => {
    const client = new ClientV2(
      { name: "token-exchange-client-v2", version: "1.0.0" },
      { versionNegotiation: { mode: { pin: "2026-07-28" } } }
    )
    await client.connect(new TransportV2(mcpUrlV2, { requestInit: { headers: { authorization: `Bearer ${tokens.bob}` } } }))
    try {
      const result = await client.callTool({ name: "orders_whoami", arguments: {} })
      assert.strictEqual(textOf(result), `HTTP 200 {"sub":"bob","act":"${SERVER.id}","scope":"orders:read"}`)
    } finally {
      await client.close()
    }
  })

  it("the exchanged token is kept per caller: a second call does not exchange again, another user gets their own", async () => {
    const alice = await connect("alice")
    const erin = await connect("erin")
    try {
      await alice.callTool({ name: "orders_whoami", arguments: {} })
      const before = exchangesOf(ORDERS).length
      const again = await alice.callTool({ name: "orders_whoami", arguments: {} })
      assert.include(textOf(again), `"sub":"alice"`)
      assert.strictEqual(exchangesOf(ORDERS).length, before)
      const other = await erin.callTool({ name: "orders_whoami", arguments: {} })
      assert.include(textOf(other), `"sub":"erin"`)
      assert.strictEqual(exchangesOf(ORDERS).length, before + 1)
      assert.strictEqual(exchangesOf(ORDERS).at(-1)!.params.subject_token, tokens.erin)
    } finally {
      await alice.close()
      await erin.close()
    }
  })

  it("concurrent calls of one caller share one exchange", async () => {
    const client = await connect("carol")
    exchangeDelay = 300
    try {
      const before = exchangesOf(ORDERS).length
      const results = await Promise.all(Array.from({ length: 8 }, () => client.callTool({ name: "orders_whoami", arguments: {} })))
      for (const r of results) assert.include(textOf(r), `"sub":"carol"`)
      assert.strictEqual(exchangesOf(ORDERS).length, before + 1)
    } finally {
      exchangeDelay = 0
      await client.close()
    }
  })

  it("a token is exchanged again once it has expired", async () => {
    const client = await connect("dave")
    try {
      const before = exchangesOf(SHORT).length
      assert.include(textOf(await client.callTool({ name: "short_whoami", arguments: {} })), `HTTP 200 {"sub":"dave"`)
      assert.include(textOf(await client.callTool({ name: "short_whoami", arguments: {} })), `HTTP 200 {"sub":"dave"`)
      assert.strictEqual(exchangesOf(SHORT).length, before + 1)
      await new Promise((resolve) => setTimeout(resolve, 2_100))
      const later = await client.callTool({ name: "short_whoami", arguments: {} })
      // the API accepted it: a fresh token, not the expired one
      assert.include(textOf(later), `HTTP 200 {"sub":"dave"`)
      assert.strictEqual(exchangesOf(SHORT).length, before + 2)
    } finally {
      await client.close()
    }
  })

  it("the provider's refusal reaches the client with its error code and without the caller's token", async () => {
    const client = await connect("alice")
    try {
      const result = await client.callTool({ name: "forbidden", arguments: {} })
      assert.isTrue(result.isError)
      const text = textOf(result)
      assert.include(text, "OAuth provider idp refused the token exchange (HTTP 400): invalid_target")
      assert.notInclude(text, tokens.alice!)
      assert.notInclude(JSON.stringify(result), tokens.alice!)
    } finally {
      await client.close()
    }
  })

  it("an exchanged token a tool returns is scrubbed", async () => {
    const client = await connect("alice")
    try {
      const result = await client.callTool({ name: "orders_echo", arguments: {} })
      const text = textOf(result)
      assert.include(text, "the token is ")
      // the token the API would have accepted does not appear: it is a JWT (three segments)
      assert.notMatch(text, /eyJ[\w-]+\.[\w-]+\.[\w-]+/)
    } finally {
      await client.close()
    }
  })

  it("a static declaration is refused with TokenExchangeError", async () => {
    const client = await connect("alice")
    try {
      const result = await client.callTool({ name: "orders_static", arguments: {} })
      assert.isTrue(result.isError)
      assert.strictEqual(textOf(result), `Token exchange at idp gives an OAuth token: declare the credential as "oauth", not "static".`)
    } finally {
      await client.close()
    }
  })

  it("a call without a verified access token is refused with TokenExchangeError, and nothing is sent to the provider", async () => {
    const runtime = ManagedRuntime.make(backends())
    const mcp = makeServer(runtime)
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
    const client = new Client({ name: "no-auth", version: "1.0.0" })
    await mcp.connect(serverSide)
    await client.connect(clientSide)
    try {
      const before = exchanges.length
      const result = await client.callTool({ name: "orders_whoami", arguments: {} })
      assert.isTrue(result.isError)
      assert.match(textOf(result), /^Token exchange at idp needs the caller's access token, and this call has none/)
      assert.strictEqual(exchanges.length, before)
    } finally {
      await client.close()
      await runtime.dispose()
    }
  })
})

describe("OAuthProvider.exchangeToken", () => {
  it.live("sends every audience and resource, the actor token, and returns the issued token type", () =>
    Effect.gen(function*() {
      const idp = yield* OAuthProvider.make(idpProvider())
      const before = exchanges.length
      const response = yield* OAuthProvider.exchangeToken(idp, {
        subjectToken: Redacted.make(tokens.bob!),
        audience: [ORDERS, SHORT],
        resource: ["https://a.example.test/", "https://b.example.test/"],
        scopes: ["orders:read", "orders:write"],
        actorToken: Redacted.make("an-actor-token-0123456789")
      })
      const sent = exchanges[before]!.params
      assert.deepStrictEqual(sent.audience, [ORDERS, SHORT])
      assert.deepStrictEqual(sent.resource, ["https://a.example.test/", "https://b.example.test/"])
      assert.strictEqual(sent.scope, "orders:read orders:write")
      assert.strictEqual(sent.actor_token, "an-actor-token-0123456789")
      assert.strictEqual(sent.actor_token_type, ACCESS_TOKEN)
      assert.strictEqual(response.issuedTokenType, ACCESS_TOKEN)
      assert.strictEqual(response.expiresIn, 2)
      assert.deepStrictEqual(response.scopes, ["orders:read", "orders:write"])
      const claims = jose.decodeJwt(Redacted.value(response.accessToken))
      assert.deepStrictEqual(claims.aud, [ORDERS, SHORT])
      assert.strictEqual(claims.sub, "bob")
    }))

  it.live("a subject token the provider does not know: OAuthTokenError invalid_grant, its echo of the token removed", () =>
    Effect.gen(function*() {
      const idp = yield* OAuthProvider.make(idpProvider())
      const unknown = "not-a-token-of-this-provider-0123456789"
      const error = yield* Effect.flip(OAuthProvider.exchangeToken(idp, { subjectToken: Redacted.make(unknown), audience: ORDERS }))
      assert.instanceOf(error, OAuthProviderError.OAuthTokenError)
      assert.strictEqual(error.grant, "token_exchange")
      assert.strictEqual(error.error, "invalid_grant")
      assert.match(error.message, /^OAuth provider idp refused the token exchange \(HTTP 400\): invalid_grant/)
      assert.notInclude(error.message, unknown)
      assert.notInclude(JSON.stringify(error), unknown)
    }))
})

describe("OAuthProvider's answers", () => {
  it("fix: an answer without a Content-Length is read only up to the 256 KiB cap, then the stream is cancelled", async () => {
    // a provider (or anything on the path to it) streaming a large chunked answer
    const total = 64 * 1024 * 1024
    const chunk = Buffer.alloc(64 * 1024, 0x61)
    let written = 0
    const stub = await listen((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" }) // chunked: no content-length
      const pump = () => {
        while (written < total && !res.destroyed) {
          written += chunk.length
          if (!res.write(chunk)) return void res.once("drain", pump)
        }
        res.end()
      }
      pump()
    })
    try {
      const p = await Effect.runPromise(
        OAuthProvider.make({ name: "stub", tokenEndpoint: `${stub.url}/token`, clientId: "c", clientSecret: Redacted.make("stub-secret-0123456789") })
      )
      const error = await Effect.runPromise(
        Effect.flip(OAuthProvider.exchangeToken(p, { subjectToken: Redacted.make("subject-token-0123456789"), audience: ORDERS }))
      )
      assert.instanceOf(error, OAuthProviderError.OAuthRequestError)
      assert.match(error.message, /answered too much$/)
      assert.isBelow(written, 8 * 1024 * 1024, "the client stopped reading soon after the cap")
    } finally {
      await closeServer(stub.server)
    }
  })
})
