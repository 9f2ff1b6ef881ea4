/**
 * jwt-jwks: an MCP server that only answers callers holding an access token from an identity
 * provider (IdP), verified against the IdP's published key set (JWKS).
 *
 * Shows: `McpAuth.authenticate` + `JwtVerifier.layer({ jwksUri, issuer, audience })` in front of the
 * MCP endpoint, with the audience set to the endpoint's own URL (RFC 8707: a token minted for
 * another resource is refused); `McpAuth.wellKnownRouter` serving the protected-resource metadata
 * (RFC 9728) that the 401's `WWW-Authenticate` points to; a tool reading the caller with
 * `yield* AuthUser.CurrentUser` (installed with `context: McpAuth.toolServices`); a tool declaring
 * `scopes: ["admin"]`; the IdP rotating its signing key (new `kid`), picked up by a JWKS refetch;
 * an expired token refused; and the same verification outside Effect with `verifyPromise` (as an
 * Express middleware would use it).
 *
 * The IdP is a tiny local stand-in (node:http on 127.0.0.1, random port): it publishes an RS256
 * public key set at `/jwks.json` and mints RFC 9068 access tokens with `jose`. A real IdP (Keycloak,
 * Auth0, Entra ID, ...) mints them at its token endpoint after the user logs in; the MCP server side
 * is the same.
 *
 * Run:  npm run example:jwt-jwks
 *       node examples/dist/jwt-jwks/main.js --serve   (keeps serving and prints a demo token; PORT=3007 to pick the port)
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpServer from "@effect/platform/HttpServer"
import { AccessToken, type AuthError, AuthUser, JwtVerifier, McpAuth } from "@mcp-credentials/auth"
import { McpCredentials, McpHttpServer } from "@mcp-credentials/server"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as jose from "jose"
import { randomUUID } from "node:crypto"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import * as Example from "../shared/example.js"

// -- the identity provider (a local stand-in) -----------------------------------------------------

interface SigningKey {
  readonly kid: string
  readonly privateKey: jose.CryptoKey
  readonly publicJwk: jose.JWK
}

interface IdP {
  /** The `iss` of its tokens, e.g. `http://127.0.0.1:51234`. */
  readonly issuer: string
  readonly jwksUri: string
  /** The `kid` tokens are signed with now. */
  readonly currentKid: () => string
  /** How many times the JWKS was fetched. */
  readonly jwksFetches: () => number
  /** Mints an access token for `user`, for the resource `audience`. */
  readonly mint: (options: {
    readonly user: "alice" | "bob"
    readonly scope: string
    readonly audience: string
    /** Seconds from now; negative for a token that has already expired. Default 600. */
    readonly expiresIn?: number | undefined
  }) => Promise<string>
  /** Starts signing with a new key (new `kid`); the set publishes both while old tokens live. */
  readonly rotate: () => Promise<void>
}

/** DEMO users of the demo IdP. */
const users = {
  alice: { sub: "user-alice-01", email: "alice@example.com", name: "Alice Admin" },
  bob: { sub: "user-bob-02", email: "bob@example.com", name: "Bob Reader" }
} as const

const newKey = async (kid: string): Promise<SigningKey> => {
  const { privateKey, publicKey } = await jose.generateKeyPair("RS256", { extractable: true })
  return { kid, privateKey, publicJwk: { ...(await jose.exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } }
}

const startIdP = (): Effect.Effect<IdP, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      let keys: Array<SigningKey> = [await newKey("key-1")]
      let fetches = 0
      const server = createServer((req, res) => {
        const path = new URL(req.url ?? "/", "http://idp").pathname
        if (req.method === "GET" && path === "/jwks.json") {
          fetches++
          console.error(`[idp] GET /jwks.json -> kids ${keys.map((k) => k.kid).join(", ")}`)
          res.writeHead(200, { "content-type": "application/json" })
          return res.end(JSON.stringify({ keys: keys.map((k) => k.publicJwk) }))
        }
        if (req.method === "GET" && path === "/.well-known/openid-configuration") {
          res.writeHead(200, { "content-type": "application/json" })
          return res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks.json` }))
        }
        res.writeHead(404, { "content-type": "application/json" })
        res.end(JSON.stringify({ error: "not found" }))
      })
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
      const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
      const idp: IdP & { readonly close: () => Promise<void> } = {
        issuer,
        jwksUri: `${issuer}/jwks.json`,
        currentKid: () => keys[0]!.kid,
        jwksFetches: () => fetches,
        mint: ({ audience, expiresIn = 600, scope, user }) => {
          const key = keys[0]!
          const now = Math.floor(Date.now() / 1000)
          return new jose.SignJWT({ ...users[user], client_id: "demo-mcp-client", scope })
            .setProtectedHeader({ alg: "RS256", kid: key.kid, typ: "at+jwt" })
            .setIssuer(issuer)
            .setAudience(audience)
            .setIssuedAt(now - (expiresIn < 0 ? 600 : 0))
            .setExpirationTime(now + expiresIn)
            .setJti(randomUUID())
            .sign(key.privateKey)
        },
        rotate: async () => {
          const next = await newKey(`key-${keys.length + 1}`)
          keys = [next, ...keys] // the new key signs; the old one stays published until its tokens expire
        },
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done())
            server.closeAllConnections()
          })
      }
      return idp
    }),
    (idp) => Effect.promise(() => idp.close())
  )

// -- the MCP server -------------------------------------------------------------------------------

const makeServer = <R>(runtime: Runtime.Runtime<R>) => {
  const server = new McpServer({ name: "jwt-jwks-example", version: "0.1.0" })
  // `context: McpAuth.toolServices` gives every Effect tool the caller (CurrentUser, CurrentAccessToken)
  const tools = McpCredentials.install(server, { runtime, context: McpAuth.toolServices })

  tools.registerTool(
    "whoami",
    { description: "Who is calling: claims from the verified access token." },
    () =>
      Effect.gen(function*() {
        const user = yield* AuthUser.CurrentUser
        const token = yield* AccessToken.CurrentAccessToken
        return {
          name: user.name,
          email: user.email,
          sub: token.subject ?? null,
          clientId: token.clientId,
          scopes: token.scopes,
          expiresAt: token.expiresAt === undefined ? null : DateTime.formatIso(token.expiresAt)
        }
      })
  )

  tools.registerTool(
    "purge_cache",
    { description: "An admin operation: needs the `admin` scope.", scopes: ["admin"] },
    () => Effect.map(AuthUser.CurrentUser, (user) => `cache purged by ${String(user.email)}`)
  )
  return server
}

/**
 * The MCP server on 127.0.0.1. The listening socket is opened first so that the endpoint's URL
 * (with its port) is known: it is the `resource` of the metadata and the `audience` every token
 * must name.
 */
const serverLayer = (idp: IdP) =>
  Layer.unwrapEffect(
    Effect.gen(function*() {
      const address = (yield* HttpServer.HttpServer).address
      if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
      const resource = `http://127.0.0.1:${address.port}/mcp`
      const resourceMetadataUrl = McpAuth.resourceMetadataUrl(resource)
      return McpHttpServer.serve({
        server: makeServer,
        allowedHosts: McpHttpServer.localhostNames,
        authenticate: McpAuth.authenticate({ resource, resourceMetadataUrl }),
        routes: McpAuth.wellKnownRouter({
          resource,
          authorizationServers: [idp.issuer],
          scopesSupported: ["read", "admin"]
        })
      }).pipe(
        Layer.provide(
          JwtVerifier.layer({
            jwksUri: idp.jwksUri,
            issuer: idp.issuer,
            audience: resource, // RFC 8707: only tokens minted for this endpoint
            typ: "at+jwt",
            // An unknown kid refetches the set at most once per cooldown (default 30 s, so that
            // random kids cannot hammer the IdP); 1 s here so the rotation below needs no long wait.
            jwksOptions: { cooldown: "1 second" }
          })
        )
      )
    })
  ).pipe(
    Layer.provideMerge(NodeHttpServer.layer(McpHttpServer.createClosingServer, { port: Example.listenPort(3007), host: "127.0.0.1" })),
    Layer.provide(Example.logToStderr)
  )

// -- the session ----------------------------------------------------------------------------------

/** An `initialize` POST with a raw `fetch`, so the HTTP status and challenge are visible. */
const probe = async (url: URL, token?: string): Promise<void> => {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      ...(token !== undefined ? { authorization: `Bearer ${token}` } : {})
    },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "fetch", version: "0" } }
    })
  })
  console.log(`-> POST ${url.pathname} (initialize)${token === undefined ? ", no Authorization header" : ", Authorization: Bearer <token>"}`)
  console.log(`   <- HTTP ${res.status} ${await res.text()}`)
  const challenge = res.headers.get("www-authenticate")
  if (challenge !== null) console.log(`      WWW-Authenticate: ${challenge}`)
}

const main = Effect.gen(function*() {
  const idp = yield* startIdP()
  const url = yield* Example.serveHttp(serverLayer(idp))
  const resource = url.href

  if (Example.isServe) {
    const token = yield* Effect.promise(() => idp.mint({ user: "alice", scope: "read admin", audience: resource, expiresIn: 3600 }))
    return yield* Example.keepServing([
      `jwt-jwks example (demo identity provider ${idp.issuer}, JWKS ${idp.jwksUri})`,
      ...Example.connectHelp(url),
      "",
      "Every request needs an access token from the demo IdP. A DEMO token for alice (scopes read admin, valid 1 h):",
      `  Authorization: Bearer ${token}`,
      "(in the Inspector: Authentication, Bearer Token; with curl: add -H 'authorization: Bearer <token>')"
    ])
  }

  console.log(`jwt-jwks: MCP server ${resource}, identity provider ${idp.issuer}`)
  yield* Effect.promise(async () => {
    Example.section("discovery: the protected-resource metadata (RFC 9728), no token needed")
    const metadataUrl = McpAuth.resourceMetadataUrl(resource)
    console.log(`-> GET ${new URL(metadataUrl).pathname}`)
    console.log(`   <- ${JSON.stringify(await (await fetch(metadataUrl)).json())}`)

    Example.section("no token: 401, and the challenge says where to find the metadata")
    await probe(url)

    Example.section(`alice, token from the IdP (scope "read admin", signed with ${idp.currentKid()})`)
    const alice = await Example.connect(url, {
      headers: { authorization: `Bearer ${await idp.mint({ user: "alice", scope: "read admin", audience: resource })}` }
    })
    await Example.listTools(alice)
    await Example.call(alice, "whoami")
    await Example.call(alice, "purge_cache")
    Example.note(`the server fetched the IdP's JWKS ${idp.jwksFetches()} time(s) so far`)

    Example.section(`bob, token with scope "read" only`)
    const bob = await Example.connect(url, {
      headers: { authorization: `Bearer ${await idp.mint({ user: "bob", scope: "read", audience: resource })}` }
    })
    await Example.call(bob, "whoami")
    await Example.call(bob, "purge_cache")
    Example.note("the tool declares scopes: [\"admin\"]; the call is refused before the tool runs")

    Example.section("the IdP rotates its signing key")
    await idp.rotate()
    await new Promise((r) => setTimeout(r, 1100)) // the JWKS cooldown configured above
    const rotated = await idp.mint({ user: "alice", scope: "read", audience: resource })
    console.log(`   (new tokens are signed with ${idp.currentKid()}, a kid the server has not seen)`)
    const alice2 = await Example.connect(url, { headers: { authorization: `Bearer ${rotated}` } })
    await Example.call(alice2, "whoami")
    Example.note(`accepted: the unknown kid made the server refetch the JWKS (${idp.jwksFetches()} fetches in all)`)

    Example.section("a token minted for another resource (RFC 8707 audience)")
    await probe(url, await idp.mint({ user: "alice", scope: "read admin", audience: "https://other-mcp.example.com/mcp" }))

    Example.section("an expired token (expired 5 minutes ago; the clock tolerance is 30 s)")
    await probe(url, await idp.mint({ user: "alice", scope: "read admin", audience: resource, expiresIn: -300 }))

    Example.section("outside Effect: the same verifier as a plain async function (verifyPromise)")
    // e.g. in an Express middleware in front of other routes of the same app
    const plain = await Effect.runPromise(JwtVerifier.make({ jwksUri: idp.jwksUri, issuer: idp.issuer, audience: resource }))
    const who = await plain.verifyPromise(Redacted.make(await idp.mint({ user: "alice", scope: "read", audience: resource })))
    console.log(`   verifyPromise(alice's token) -> subject ${who.subject}, scopes ${who.scopes.join(" ")}`)
    const refused = await plain
      .verifyPromise(Redacted.make(await idp.mint({ user: "alice", scope: "read", audience: resource, expiresIn: -300 })))
      .catch((e: AuthError.AuthError) => e)
    console.log(`   verifyPromise(an expired token) -> rejected with ${(refused as AuthError.AuthError)._tag}: ${(refused as AuthError.AuthError).message}`)

    for (const client of [alice, bob, alice2]) await client.close()
  })
})

Example.run(main)
