/**
 * token-exchange: on-behalf-of credentials. The MCP server knows who calls (the user's access
 * token, verified against the identity provider's JWKS) and calls a downstream API **as that
 * user** with a token the identity provider issued for that API, obtained by RFC 8693 token
 * exchange. The user's own token never goes to the API (the API would refuse it: its audience is
 * the MCP server), and no token reaches the model.
 *
 * Shows: `TokenExchange.layer({ provider, audience, scopes })` as the named credential `orders`
 * (`CredentialBackend.layerNamed`); a plain async tool reading it with `getCredentials("orders")`;
 * the exchanged token kept per caller (a second call does not exchange again; another user gets
 * their own); the user's MCP token refused by the API (wrong audience), which is why the exchange
 * exists; a careless tool echoing the exchanged token, scrubbed.
 *
 * The identity provider is a tiny local stand-in (node:http, RS256 with `jose`): it mints users'
 * access tokens for the MCP server, publishes its JWKS and discovery document, and answers the
 * token-exchange grant at `/token` for one confidential client (the MCP server). Keycloak, Okta
 * and ZITADEL, among others, offer the same grant; for Entra ID's on-behalf-of flow, add
 * `grant: "on-behalf-of"` and name the API by its scope (`api://orders/.default`).
 *
 * Run:  npm run example:token-exchange
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpServer from "@effect/platform/HttpServer"
import { JwtVerifier, McpAuth } from "@mcp-credentials/auth"
import { CredentialBackend, ResolvedCredential } from "@mcp-credentials/core"
import { McpCredentials, McpHttpServer } from "@mcp-credentials/server"
import { TokenExchange } from "@mcp-credentials/vault"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as jose from "jose"
import { randomUUID, timingSafeEqual } from "node:crypto"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import * as Example from "../shared/example.js"

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
const ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"
/** The downstream API's identifier at the IdP: the audience of the tokens it accepts. */
const ORDERS_AUDIENCE = "https://orders.example.com"
/** DEMO client credentials of the MCP server at the IdP (set MCP_SERVER_CLIENT_SECRET to change both sides). */
const MCP_CLIENT_ID = "demo-mcp-server"
const MCP_CLIENT_SECRET = process.env.MCP_SERVER_CLIENT_SECRET ?? "demo-mcp-server-secret-6f1c2a"

/** DEMO users and their orders. */
const users = {
  alice: { sub: "user-alice-01", orders: ["#1001 espresso machine", "#1007 grinder"] },
  bob: { sub: "user-bob-02", orders: ["#1003 kettle"] }
} as const

// -- the identity provider (a local stand-in) -----------------------------------------------------

interface IdP {
  readonly issuer: string
  readonly jwksUri: string
  readonly publicKey: jose.CryptoKey
  /** Token exchanges answered so far. */
  readonly exchanges: () => number
  /** A user's access token for the MCP server (`audience`), as the IdP gives it after login. */
  readonly mint: (user: keyof typeof users, audience: string) => Promise<string>
}

const readForm = (req: IncomingMessage): Promise<URLSearchParams> =>
  new Promise((resolve, reject) => {
    let body = ""
    req.on("data", (d: Buffer) => (body += d.toString("utf8")))
    req.on("end", () => resolve(new URLSearchParams(body)))
    req.on("error", reject)
  })

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" })
  res.end(JSON.stringify(body))
}

const sameSecret = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b))

const startIdP = (mcpAudience: () => string): Effect.Effect<IdP, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const { privateKey, publicKey } = await jose.generateKeyPair("RS256", { extractable: true })
      const publicJwk = { ...(await jose.exportJWK(publicKey)), kid: "idp-key-1", alg: "RS256", use: "sig" }
      let exchanges = 0
      const sign = (claims: jose.JWTPayload, audience: string, expiresIn: number) =>
        new jose.SignJWT(claims)
          .setProtectedHeader({ alg: "RS256", kid: "idp-key-1", typ: "at+jwt" })
          .setIssuer(issuer)
          .setAudience(audience)
          .setIssuedAt()
          .setExpirationTime(`${expiresIn}s`)
          .setJti(randomUUID())
          .sign(privateKey)

      const exchange = async (req: IncomingMessage, res: ServerResponse) => {
        const form = await readForm(req)
        // the MCP server authenticates as a confidential client (HTTP Basic)
        const [id, secret] = Buffer.from((req.headers.authorization ?? "").replace(/^Basic /, ""), "base64").toString().split(":")
        if (id !== MCP_CLIENT_ID || !sameSecret(decodeURIComponent(secret ?? ""), MCP_CLIENT_SECRET)) {
          return json(res, 401, { error: "invalid_client" })
        }
        if (form.get("grant_type") !== TOKEN_EXCHANGE) return json(res, 400, { error: "unsupported_grant_type" })
        if (form.get("subject_token_type") !== ACCESS_TOKEN) return json(res, 400, { error: "invalid_request" })
        // the subject token must be one of this IdP's tokens, issued for the MCP server
        const subject = await jose
          .jwtVerify(form.get("subject_token") ?? "", publicKey, { issuer, audience: mcpAudience() })
          .catch(() => undefined)
        if (subject === undefined) return json(res, 400, { error: "invalid_grant", error_description: "the subject token is not valid" })
        if (form.get("audience") !== ORDERS_AUDIENCE) return json(res, 400, { error: "invalid_target" })
        exchanges++
        console.error(`[idp] token exchange for ${subject.payload.sub} -> audience ${ORDERS_AUDIENCE}`)
        const scope = form.get("scope") ?? ""
        const token = await sign({ sub: subject.payload.sub ?? "", scope, act: { sub: MCP_CLIENT_ID } }, ORDERS_AUDIENCE, 300)
        json(res, 200, { access_token: token, issued_token_type: ACCESS_TOKEN, token_type: "Bearer", expires_in: 300, scope })
      }

      const server = createServer((req, res) => {
        const path = new URL(req.url ?? "/", "http://idp").pathname
        if (req.method === "GET" && path === "/jwks.json") return json(res, 200, { keys: [publicJwk] })
        if (req.method === "GET" && path === "/.well-known/openid-configuration") {
          return json(res, 200, { issuer, jwks_uri: `${issuer}/jwks.json`, token_endpoint: `${issuer}/token`, authorization_endpoint: `${issuer}/authorize` })
        }
        if (req.method === "POST" && path === "/token") return void exchange(req, res).catch(() => json(res, 500, { error: "server_error" }))
        json(res, 404, { error: "not found" })
      })
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
      const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      return {
        issuer,
        jwksUri: `${issuer}/jwks.json`,
        publicKey,
        exchanges: () => exchanges,
        mint: (user: keyof typeof users, audience: string) => sign({ sub: users[user].sub, scope: "orders" }, audience, 600),
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done())
            server.closeAllConnections()
          })
      }
    }),
    (idp) => Effect.promise(() => idp.close())
  )

// -- the downstream API: accepts only tokens the IdP issued for it ---------------------------------

const startOrdersApi = (idp: IdP): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const server = createServer(async (req, res) => {
        const token = (req.headers.authorization ?? "").replace(/^Bearer /, "")
        const verified = await jose
          .jwtVerify(token, idp.publicKey, { issuer: idp.issuer, audience: ORDERS_AUDIENCE, typ: "at+jwt" })
          .catch((e: Error) => e)
        if (verified instanceof Error) return json(res, 401, { error: "invalid_token", reason: verified.message })
        const user = Object.values(users).find((u) => u.sub === verified.payload.sub)
        json(res, 200, { user: verified.payload.sub, via: (verified.payload.act as { sub?: string } | undefined)?.sub, orders: user?.orders ?? [] })
      })
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
      return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
    }),
    ({ server }) =>
      Effect.promise(() =>
        new Promise<void>((done) => {
          server.close(() => done())
          server.closeAllConnections()
        })
      )
  ).pipe(Effect.map(({ url }) => url))

// -- the MCP server -------------------------------------------------------------------------------

const makeServer = (ordersUrl: string) => <R>(runtime: Runtime.Runtime<R>) => {
  const server = new McpServer({ name: "token-exchange-example", version: "0.1.0" })
  const tools = McpCredentials.install(server, { runtime })

  tools.registerTool(
    "list_orders",
    { description: "The caller's orders, from the orders API, as the caller.", credentials: { orders: "oauth" } },
    async () => {
      const credential = McpCredentials.getCredentials("orders")
      if (!ResolvedCredential.isOAuth(credential)) throw new Error("expected an OAuth credential")
      // the secret leaves the process here, and only here
      const res = await fetch(ordersUrl, { headers: { authorization: `Bearer ${Redacted.value(credential.accessToken)}` } })
      return `orders API HTTP ${res.status}: ${await res.text()}`
    }
  )

  tools.registerTool(
    "debug_echo_token",
    { description: "A careless tool that returns the exchanged token (the scrubber catches it).", credentials: { orders: "oauth" } },
    async () => {
      const credential = McpCredentials.getCredentials("orders")
      return `the orders token is ${ResolvedCredential.isOAuth(credential) ? Redacted.value(credential.accessToken) : "?"}`
    }
  )
  return server
}

const serverLayer = (idp: IdP, ordersUrl: string, setResource: (resource: string) => void) =>
  Layer.unwrapEffect(
    Effect.gen(function*() {
      const address = (yield* HttpServer.HttpServer).address
      if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
      const resource = `http://127.0.0.1:${address.port}/mcp`
      setResource(resource)
      return McpHttpServer.serve({
        server: makeServer(ordersUrl),
        allowedHosts: McpHttpServer.localhostNames,
        authenticate: McpAuth.authenticate({ resource })
      }).pipe(
        Layer.provide(Layer.mergeAll(
          // who calls: the user's token, for this MCP server
          JwtVerifier.layer({ jwksUri: idp.jwksUri, issuer: idp.issuer, audience: resource, typ: "at+jwt" }),
          // the orders credential: that token exchanged at the IdP for one the orders API accepts
          CredentialBackend.layerNamed(
            "orders",
            TokenExchange.layer({
              provider: { name: "demo-idp", issuer: idp.issuer, clientId: MCP_CLIENT_ID, clientSecret: Redacted.make(MCP_CLIENT_SECRET) },
              audience: ORDERS_AUDIENCE,
              scopes: ["orders:read"]
            })
          )
        ))
      )
    })
  ).pipe(
    Layer.provideMerge(NodeHttpServer.layer(McpHttpServer.createClosingServer, { port: 0, host: "127.0.0.1" })),
    Layer.provide(Example.logToStderr)
  )

// -- the session ----------------------------------------------------------------------------------

const main = Effect.gen(function*() {
  let resource = ""
  const idp = yield* startIdP(() => resource)
  const ordersUrl = yield* startOrdersApi(idp)
  const url = yield* Example.serveHttp(serverLayer(idp, ordersUrl, (r) => (resource = r)))
  console.log(`token-exchange: MCP server ${url.href}, identity provider ${idp.issuer}, orders API ${ordersUrl}`)

  return yield* Effect.promise(async () => {
    let unexpected = 0
    const check = (ok: boolean, what: string) => {
      console.log(ok ? `   ok: ${what}` : `   UNEXPECTED: ${what}`)
      if (!ok) unexpected++
    }
    const aliceToken = await idp.mint("alice", resource)

    Example.section("the user's own MCP token at the orders API: refused (its audience is the MCP server)")
    const direct = await fetch(ordersUrl, { headers: { authorization: `Bearer ${aliceToken}` } })
    console.log(`-> GET ${ordersUrl} with alice's MCP token\n   <- HTTP ${direct.status}`)
    check(direct.status === 401, "the orders API accepts only tokens issued for it")

    Example.section("alice calls list_orders: the server exchanges her token for an orders token")
    const alice = await Example.connect(url, { headers: { authorization: `Bearer ${aliceToken}` } })
    const first = await Example.call(alice, "list_orders")
    check(first.text.includes(`"user":"${users.alice.sub}"`) && first.text.includes(`"via":"${MCP_CLIENT_ID}"`), "the API saw alice, through the MCP server")
    check(idp.exchanges() === 1, `one token exchange so far (${idp.exchanges()})`)

    Example.section("alice again: the exchanged token is kept until shortly before it expires")
    await Example.call(alice, "list_orders")
    check(idp.exchanges() === 1, `still one exchange (${idp.exchanges()})`)

    Example.section("bob: his own exchange, his own orders")
    const bob = await Example.connect(url, { headers: { authorization: `Bearer ${await idp.mint("bob", resource)}` } })
    const bobs = await Example.call(bob, "list_orders")
    check(bobs.text.includes(`"user":"${users.bob.sub}"`) && !bobs.text.includes("espresso"), "bob sees only his orders")
    check(idp.exchanges() === 2, `two exchanges in all (${idp.exchanges()})`)

    Example.section("a careless tool returns the exchanged token")
    const echoed = await Example.call(alice, "debug_echo_token")
    check(echoed.text.includes("[redacted]") && !/eyJ[\w-]+\.[\w-]+\.[\w-]+/.test(echoed.text), "the token was scrubbed from the result")

    await alice.close()
    await bob.close()
    console.log(unexpected === 0 ? "\nDone: every step behaved as shown." : `\n${unexpected} UNEXPECTED step(s).`)
    return unexpected === 0 ? 0 : 1
  })
})

Example.run(main)
