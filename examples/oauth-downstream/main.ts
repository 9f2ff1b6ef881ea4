/**
 * oauth-downstream: each user's own OAuth token for a downstream API, kept in the vault and
 * refreshed on the tool call.
 *
 * Shows: a real OpenID provider (`oidc-provider`, started here on a random loopback port, with
 * rotating refresh tokens) is the downstream; `OAuthProvider.make` finds it by OIDC discovery; the
 * authorization code + PKCE flow stores the user's token in the vault (the browser is simulated
 * here: it signs in on the provider's own login page); a tool declares `{ corp: "oauth" }` and
 * `TokenRefresh.layerBackend("corp")` hands it the caller's token, refreshed before the tool runs
 * when it expires within 60 s. Concurrent calls share one refresh (the session counts the
 * requests that reach the token endpoint); a user without a token, or with a dead one, gets a tool
 * error asking to authorize. The MCP client authenticates with `ClientAuth.bearer`.
 *
 * Run:  npm run example:oauth-downstream
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { ClientAuth, McpAuth, StaticTokenVerifier, type TokenVerifier } from "@mcp-credentials/auth"
import { CredentialBackend, CurrentCredential, ResolvedCredential } from "@mcp-credentials/core"
import { McpCredentials, McpHttpServer } from "@mcp-credentials/server"
import { CredentialStore, OAuthProvider, TokenRefresh } from "@mcp-credentials/vault"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Runtime from "effect/Runtime"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
// @ts-expect-error oidc-provider ships no type declarations
import Provider from "oidc-provider"
import * as Downstream from "../shared/downstream.js"
import * as Example from "../shared/example.js"

/** DEMO VALUES ONLY. */
const client = { id: "corp-mcp-server", secret: "demo-corp-client-secret-8f3a1c" }
const inbound = { ada: "demo-inbound-token-ada-4e1b", bob: "demo-inbound-token-bob-9c2d" }
const redirectUri = "http://127.0.0.1:9/oauth/callback"

/** The downstream: a real OpenID provider on loopback, counting requests to its token endpoint. */
const startProvider = Effect.acquireRelease(
  Effect.promise(async () => {
    let provider: any
    let tokenRequests = 0
    const server = createServer((req, res) => {
      if (req.method === "POST" && req.url === "/token") tokenRequests++
      provider.callback()(req, res)
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    provider = new Provider(issuer, {
      clients: [{
        client_id: client.id,
        client_secret: client.secret,
        grant_types: ["authorization_code", "refresh_token"],
        redirect_uris: [redirectUri],
        response_types: ["code"]
      }],
      scopes: ["openid", "offline_access", "profile"],
      claims: { openid: ["sub"], profile: ["name"] },
      findAccount: async (_ctx: unknown, id: string) => ({
        accountId: id,
        claims: async () => ({ sub: id, name: id === "ada" ? "Ada Lovelace" : id })
      }),
      pkce: { required: () => true },
      ttl: { AccessToken: 3600, RefreshToken: 86400, AuthorizationCode: 60, Grant: 86400, Interaction: 600, Session: 3600, IdToken: 3600 },
      rotateRefreshToken: () => true,
      issueRefreshToken: async () => true,
      features: { devInteractions: { enabled: true } }
    })
    provider.on("server_error", () => undefined)
    return { issuer, server, tokenRequests: () => tokenRequests }
  }),
  ({ server }) =>
    Effect.promise(() =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
    )
)

/**
 * The user's browser, simulated: follows the authorize URL, signs in as `login` on the provider's
 * login page, consents, and returns where the provider redirects (the callback, with code and state).
 */
const browser = async (url: URL, login: string): Promise<URL> => {
  const jar = new Map<string, string>()
  let next = url.href
  let form: URLSearchParams | undefined
  for (let step = 0; step < 12; step++) {
    const res = await fetch(next, {
      method: form === undefined ? "GET" : "POST",
      redirect: "manual",
      headers: { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join("; ") },
      ...(form === undefined ? {} : { body: form })
    })
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(";")[0]!
      jar.set(pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1))
    }
    form = undefined
    const location = res.headers.get("location")
    if (location !== null) {
      await res.body?.cancel()
      next = new URL(location, next).href
      if (next.startsWith(redirectUri)) return new URL(next)
      continue
    }
    const html = await res.text()
    const prompt = /name="prompt" value="(\w+)"/.exec(html)?.[1] ?? "login"
    next = new URL((/action="([^"]+)"/.exec(html)?.[1] ?? "").replace(/&amp;/g, "&"), next).href
    form = new URLSearchParams(prompt === "login" ? { prompt, login, password: "demo" } : { prompt })
  }
  throw new Error("the provider's pages did not redirect back")
}

type Services = TokenVerifier.TokenVerifier | CredentialBackend.Named<"corp"> | HttpClient.HttpClient

const makeServer = (userinfo: string) => (runtime: Runtime.Runtime<Services>) => {
  const server = new McpServer({ name: "oauth-downstream-example", version: "0.1.0" })
  const tools = McpCredentials.install(server, { runtime })
  tools.registerTool(
    "corp_profile",
    { description: "The caller's profile from the Corp API, with the caller's own Corp token.", credentials: { corp: "oauth" } },
    () =>
      Effect.gen(function*() {
        const token = yield* CurrentCredential.getOAuth("corp")
        const reply = yield* Downstream.get(userinfo, { bearer: token.accessToken })
        const body = yield* Downstream.ok(reply)
        return {
          profile: body,
          tokenExpiresAt: token.expiresAt === undefined ? null : DateTime.formatIso(token.expiresAt)
        }
      })
  )
  return server
}

const main = Effect.gen(function*() {
  const idp = yield* startProvider
  const corp = yield* OAuthProvider.make({
    name: "corp",
    issuer: idp.issuer,
    clientId: client.id,
    clientSecret: Redacted.make(process.env.CORP_CLIENT_SECRET ?? client.secret),
    scopes: ["openid", "offline_access", "profile"],
    extraAuthorizeParams: { prompt: "consent" }
  })
  const store = yield* CredentialStore.makeMemory

  const AppLayer = Layer.mergeAll(
    StaticTokenVerifier.layer({
      tokens: [
        { token: Redacted.make(inbound.ada), subject: "ada" },
        { token: Redacted.make(inbound.bob), subject: "bob" }
      ]
    }),
    CredentialBackend.layerNamed("corp", TokenRefresh.layerBackend("corp")).pipe(
      Layer.provide(TokenRefresh.layer({ providers: [corp] })),
      Layer.provide(Layer.succeed(CredentialStore.CredentialStore, store))
    ),
    Downstream.layer,
    Example.logToStderr
  )
  const url = yield* Example.serveHttp(
    McpHttpServer.layer({
      port: Example.listenPort(3010),
      server: makeServer(`${idp.issuer}/me`),
      authenticate: McpAuth.authenticate()
    }).pipe(Layer.provide(AppLayer))
  )
  console.log(`oauth-downstream: MCP server ${url.href}, Corp OpenID provider ${idp.issuer}`)

  Example.section("ada authorizes Corp: authorization code + PKCE (S256), state checked, token stored in the vault")
  const pkce = yield* OAuthProvider.makePkce
  const state = yield* OAuthProvider.makeState
  const authorizeUrl = yield* OAuthProvider.authorizationUrl(corp, { redirectUri, state, pkce })
  const callback = yield* Effect.promise(() => browser(authorizeUrl, "ada"))
  if (!OAuthProvider.stateMatches(state, callback.searchParams.get("state") ?? "")) {
    return yield* Effect.dieMessage("state mismatch")
  }
  const tokens = yield* OAuthProvider.exchangeCode(corp, {
    code: Redacted.make(callback.searchParams.get("code") ?? ""),
    redirectUri,
    codeVerifier: pkce.verifier
  })
  const credential = yield* OAuthProvider.toCredential(corp, tokens)
  yield* store.set({ provider: "corp", subject: "ada" }, credential)
  Example.note(`stored: ${String(credential.accessToken)} access token, refresh token ${credential.refreshToken === undefined ? "absent" : "present"}, expires ${DateTime.formatIso(credential.expiresAt!)}`)

  const connect = async (token: string) => {
    const c = new Client({ name: "oauth-downstream-client", version: "0.1.0" })
    await c.connect(new StreamableHTTPClientTransport(url, ClientAuth.bearer(Redacted.make(token))))
    return c
  }
  yield* Effect.promise(async () => {
    const ada = await connect(inbound.ada)
    await Example.listTools(ada)
    await Example.call(ada, "corp_profile")

    Example.section("an hour later: ada's access token has expired; 25 tool calls arrive at once")
    await Effect.runPromise(store.set(
      { provider: "corp", subject: "ada" },
      new ResolvedCredential.OAuthCredential({ ...credential, expiresAt: DateTime.unsafeMake(Date.now() - 1000) })
    ))
    const before = idp.tokenRequests()
    const results = await Promise.all(Array.from({ length: 25 }, () => ada.callTool({ name: "corp_profile", arguments: {} })))
    const ok = results.filter((r) => r.isError !== true).length
    console.log(`   <- ${ok}/25 calls succeeded; requests to the token endpoint: ${idp.tokenRequests() - before}`)
    await Example.call(ada, "corp_profile")

    Example.section("bob has not authorized Corp")
    const bob = await connect(inbound.bob)
    await Example.call(bob, "corp_profile")

    Example.section("ada's grant is revoked at Corp: the refresh answers invalid_grant, so she must authorize again")
    await Effect.runPromise(store.set(
      { provider: "corp", subject: "ada" },
      new ResolvedCredential.OAuthCredential({
        ...credential,
        refreshToken: Redacted.make("demo-revoked-refresh-token"),
        expiresAt: DateTime.unsafeMake(Date.now() - 1000)
      })
    ))
    await Example.call(ada, "corp_profile")
    await ada.close()
    await bob.close()
    if (ok !== 25 || idp.tokenRequests() - before !== 2) throw new Error("unexpected result")
  })
})

Effect.runPromise(Effect.scoped(main)).then(
  () => process.exit(0),
  (e) => {
    console.error(e)
    process.exit(1)
  }
)
