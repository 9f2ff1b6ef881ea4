/**
 * Downstream OAuth authorization through URL elicitation, end to end, in a real browser (Chromium
 * through playwright-core): a real MCP client calls a tool that needs the user's downstream OAuth
 * token; the server elicits a link; the browser opens it, signs in at the identity provider
 * (oidc-provider's dev login and consent pages), is sent on to the downstream provider (the same
 * oidc-provider, a second client with refresh tokens that rotate), consents, and comes back to the
 * callback, which exchanges the code (PKCE S256) and stores the tokens encrypted in a FileStore.
 * The tool result is made with the stored token (the provider's userinfo endpoint answers with the
 * user). Also: a wrong `state`, a replayed `state`, another user's browser (at the link and at the
 * callback) are refused; `access_denied` ends with an error page and a tool error; an expired
 * token with a dead refresh token (`invalid_grant`) starts a new authorization; fail-fast mode
 * (-32042, then the retry) on a second server. Logs never hold a `state`, code or token.
 *
 * Needs /usr/bin/chromium: skipped with a printed reason when absent, failed instead when
 * MCP_CREDENTIALS_REQUIRE_SERVICES=1.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { afterAll, assert, beforeAll, describe, it, vi } from "@effect/vitest"
import { McpAuth, StaticTokenVerifier } from "@mcp-credentials/auth"
import { CurrentCredential, ResolvedCredential } from "@mcp-credentials/core"
import { McpCredentials, McpHttpServer, ToolError } from "@mcp-credentials/server"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { Context, DateTime, Effect, Exit, Layer, Option, Redacted, Scope } from "effect"
import * as jose from "jose"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
// @ts-expect-error oidc-provider ships no type declarations
import Provider from "oidc-provider"
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core"
import {
  ConnectionsPage,
  CredentialsPage,
  CredentialStore,
  Elicitation,
  FileStore,
  Keyring,
  OAuthAuthorization,
  OAuthProvider,
  PendingStore,
  TokenRefresh
} from "../src/index.js"
import { connectClient, type Stack, textOf } from "./stack.js"

const CHROMIUM = "/usr/bin/chromium"
const required = process.env.MCP_CREDENTIALS_REQUIRE_SERVICES === "1"
const available = existsSync(CHROMIUM)

if (!available) {
  if (required) {
    describe("oauth flow (browser)", () => {
      it("chromium is required (MCP_CREDENTIALS_REQUIRE_SERVICES=1)", () => {
        assert.fail(`${CHROMIUM} not found`)
      })
    })
  } else {
    console.log(`[vault oauth flow tests] skipped: ${CHROMIUM} not found (set MCP_CREDENTIALS_REQUIRE_SERVICES=1 to fail instead)`)
  }
}

const PAGE_CLIENT = { id: "mcp-credentials-page", secret: "page-client-secret-0123456789abcdef" }
const DOWNSTREAM = { id: "downstream-app", secret: "downstream-app-secret-0123456789" }
const SCOPES = ["openid", "offline_access", "api:read"]
const INBOUND = { alice: "inbound-token-alice-0123456789", bob: "inbound-token-bob-0123456789" }

/** One oidc-provider: the identity provider of the pages and the downstream provider (two clients). */
const startIdp = async (redirects: { readonly page: ReadonlyArray<string>; readonly downstream: ReadonlyArray<string> }) => {
  const server = createServer((req, res) => provider.callback()(req, res))
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const { privateKey } = await jose.generateKeyPair("RS256", { extractable: true })
  const key = { ...(await jose.exportJWK(privateKey)), kid: "idp-key-1", alg: "RS256", use: "sig" }
  const provider: any = new Provider(issuer, {
    clients: [
      {
        client_id: PAGE_CLIENT.id,
        client_secret: PAGE_CLIENT.secret,
        grant_types: ["authorization_code"],
        response_types: ["code"],
        redirect_uris: [...redirects.page],
        token_endpoint_auth_method: "client_secret_basic"
      },
      {
        client_id: DOWNSTREAM.id,
        client_secret: DOWNSTREAM.secret,
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        redirect_uris: [...redirects.downstream],
        token_endpoint_auth_method: "client_secret_basic"
      }
    ],
    scopes: SCOPES,
    jwks: { keys: [key] },
    pkce: { required: () => true },
    rotateRefreshToken: () => true,
    issueRefreshToken: async (_ctx: unknown, client: any) => client.grantTypeAllowed("refresh_token"),
    findAccount: async (_ctx: unknown, id: string) => ({ accountId: id, claims: async () => ({ sub: id, preferred_username: id }) }),
    cookies: { keys: ["a-cookie-signing-key-for-tests-0123456789"] },
    ttl: { AccessToken: 3600, RefreshToken: 86400, AuthorizationCode: 60, Grant: 86400, Interaction: 600, Session: 3600, IdToken: 600 },
    features: { devInteractions: { enabled: true } }
  })
  return {
    issuer,
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    }
  }
}

describe.skipIf(!available)("oauth authorization through URL elicitation (chromium)", () => {
  let browser: Browser
  let scope: Scope.CloseableScope
  let idp: Awaited<ReturnType<typeof startIdp>>
  let baseUrl: string
  let mcp: Stack
  let failFastUrl: string
  let failFastMcp: Stack
  let auth: OAuthAuthorization.OAuthAuthorization
  let directory: string
  let storeFile: string
  let runStores: <A, E>(effect: Effect.Effect<A, E, CredentialStore.CredentialStore | PendingStore.PendingStore>) => Promise<A>
  const logs: Array<string> = []
  const callbacks: Array<string> = []
  const authorizes: Array<string> = []

  const newUser = async (): Promise<{ context: BrowserContext; page: Page }> => {
    const context = await browser.newContext()
    const page = await context.newPage()
    page.on("request", (r) => {
      if (r.url().includes("/oauth/downstream/callback")) callbacks.push(r.url())
      if (r.url().includes("/auth?") && r.url().includes(`client_id=${DOWNSTREAM.id}`)) authorizes.push(r.url())
    })
    return { context, page }
  }

  /** Signs in and consents at the provider's dev pages until one of our pages is shown. */
  const authorizeIn = async (
    page: Page,
    user: string,
    options: { readonly deny?: boolean; readonly stopAtProviderConsent?: boolean } = {}
  ) => {
    for (let i = 0; i < 10; i++) {
      await page.waitForLoadState("load")
      if (await page.locator("#authorized, #error").count() > 0) return
      if (await page.locator('input[name="login"]').count() > 0) {
        await page.fill('input[name="login"]', user)
        await page.fill('input[name="password"]', "any-password")
        await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')])
      } else if (await page.locator('input[name="prompt"][value="consent"]').count() > 0) {
        const atProvider = (await page.content()).includes(DOWNSTREAM.id)
        if (atProvider && options.stopAtProviderConsent === true) return
        if (atProvider && options.deny === true) {
          await Promise.all([page.waitForNavigation(), page.click('a[href$="/abort"]')])
        } else {
          await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')])
        }
      } else {
        await page.waitForTimeout(50)
      }
    }
    throw new Error(`no end page; at ${new URL(page.url()).pathname}`)
  }

  const stored = (subject: string) =>
    runStores(Effect.flatMap(CredentialStore.CredentialStore, (s) => s.get({ provider: "downstream", subject })))

  const accessTokenOf = async (subject: string) => {
    const s = await stored(subject)
    assert.isTrue(Option.isSome(s))
    const c = Option.getOrThrow(s).credential
    assert.strictEqual(c.type, "oauth")
    return c as ResolvedCredential.OAuthCredential
  }

  beforeAll(async () => {
    const collect = (...args: Array<unknown>) => void logs.push(args.map(String).join(" "))
    for (const m of ["log", "info", "warn", "error", "debug"] as const) vi.spyOn(console, m).mockImplementation(collect)
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    })
    scope = Effect.runSync(Scope.make())
    const listen = async () => {
      const ctx = await Effect.runPromise(
        Layer.buildWithScope(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }), scope)
      )
      const address = Context.get(ctx, HttpServer.HttpServer).address as { port: number }
      return { ctx, url: `http://127.0.0.1:${address.port}` }
    }
    const blocking = await listen()
    const failFast = await listen()
    baseUrl = blocking.url
    failFastUrl = failFast.url
    idp = await startIdp({
      page: [blocking.url, failFast.url].map((b) => CredentialsPage.redirectUri({ baseUrl: b })),
      downstream: [blocking.url, failFast.url].map((b) => `${b}/credentials/oauth/downstream/callback`)
    })
    const provider = await Effect.runPromise(OAuthProvider.make({
      name: "downstream",
      issuer: idp.issuer,
      clientId: DOWNSTREAM.id,
      clientSecret: Redacted.make(DOWNSTREAM.secret),
      scopes: SCOPES,
      extraAuthorizeParams: { prompt: "consent" }
    }))
    auth = OAuthAuthorization.make({ provider, title: "Downstream", timeout: "30 seconds" })
    assert.strictEqual(OAuthAuthorization.redirectUri(auth, { baseUrl }), `${baseUrl}/credentials/oauth/downstream/callback`)

    directory = mkdtempSync(join(tmpdir(), "oauth-flow-"))
    storeFile = FileStore.filePath({ directory, namespace: "oauth" })
    const oidc = { issuer: idp.issuer, clientId: PAGE_CLIENT.id, clientSecret: Redacted.make(PAGE_CLIENT.secret) }
    const build = (runtime: any) => {
      const server = new McpServer({ name: "oauth-flow", version: "1" })
      const tools = McpCredentials.install(server, { runtime, context: McpAuth.toolServices })
      tools.registerTool(
        "downstream_whoami",
        { description: "Who am I at the downstream provider (per-user OAuth).", credentials: OAuthAuthorization.declaration(auth) },
        () =>
          Effect.gen(function*() {
            const credential = yield* CurrentCredential.getOAuth("downstream")
            const res = yield* Effect.promise(() =>
              fetch(`${idp.issuer}/me`, { headers: { authorization: `Bearer ${Redacted.value(credential.accessToken)}` } })
            )
            if (!res.ok) return yield* new ToolError.ToolError({ message: `the downstream API answered ${res.status}` })
            const body = (yield* Effect.promise(() => res.json())) as { sub: string }
            return `downstream says you are ${body.sub}`
          })
      )
      return server
    }
    const serve = async (server: { ctx: Context.Context<any>; url: string }, mode: "blocking" | "failFast", namespace: string) => {
      const stores = FileStore.layer({ directory, namespace }).pipe(
        Layer.provide(Keyring.layer(Redacted.make(Keyring.generateSpec("k1"))))
      )
      const app = Layer.mergeAll(
        OAuthAuthorization.layer(auth, { baseUrl: server.url, mode }).pipe(
          Layer.provide(TokenRefresh.layer({ providers: [provider] }))
        ),
        StaticTokenVerifier.layer({
          tokens: [
            { token: Redacted.make(INBOUND.alice), clientId: "mcp-client", subject: "alice", claims: { sub: "alice", preferred_username: "alice" } },
            { token: Redacted.make(INBOUND.bob), clientId: "mcp-client", subject: "bob", claims: { sub: "bob" } }
          ]
        })
      ).pipe(Layer.provideMerge(Layer.mergeAll(stores, Elicitation.layer2025_11_25)))
      const served = McpHttpServer.serve({
        server: build,
        allowedHosts: McpHttpServer.localhostNames,
        authenticate: McpAuth.authenticate({}),
        routes: CredentialsPage.router({ baseUrl: server.url, providers: [], oidc }).pipe(
          HttpRouter.concat(OAuthAuthorization.router({ baseUrl: server.url, authorizations: [auth], oidc })),
          HttpRouter.concat(ConnectionsPage.router({ baseUrl: server.url, authorizations: [auth], oidc }))
        )
      }).pipe(Layer.provideMerge(app), Layer.provide(Layer.succeedContext(server.ctx)))
      const ctx = await Effect.runPromise(Layer.buildWithScope(served, scope))
      return {
        mcp: { mcpUrl: new URL(`${server.url}/mcp`) } as Stack,
        runStores: <A, E>(effect: Effect.Effect<A, E, CredentialStore.CredentialStore | PendingStore.PendingStore>) =>
          Effect.runPromise(Effect.provide(effect, ctx as Context.Context<any>))
      }
    }
    const main = await serve(blocking, "blocking", "oauth")
    mcp = main.mcp
    runStores = main.runStores
    failFastMcp = (await serve(failFast, "failFast", "oauth-ff")).mcp
  }, 30_000)

  afterAll(async () => {
    await browser?.close()
    if (scope !== undefined) await Effect.runPromise(Scope.close(scope, Exit.void))
    await idp?.close()
    if (directory !== undefined) rmSync(directory, { recursive: true, force: true })
    vi.restoreAllMocks()
  })

  it("tool → URL elicitation → sign-in → provider consent → callback → the tool runs with the stored token; state is single-use", async () => {
    const alice = await newUser()
    let browsing: Promise<void> = Promise.resolve()
    const c = await connectClient(mcp, INBOUND.alice, {
      url: true,
      onUrl: (url) => (browsing = (async () => {
        await alice.page.goto(url)
        await authorizeIn(alice.page, "alice")
      })())
    })
    try {
      const result = await c.client.callTool({ name: "downstream_whoami" })
      await browsing
      assert.strictEqual(textOf(result), "downstream says you are alice")
      assert.strictEqual(await alice.page.textContent("#authorized"), "Downstream authorized")
      assert.strictEqual(c.elicitations.length, 1)
      assert.include(String(c.elicitations[0]!.url), `${baseUrl}/credentials/oauth/downstream/start?t=`)
      assert.deepStrictEqual(c.completed, [String(c.elicitations[0]!.elicitationId)])

      // the provider was asked for a code with PKCE S256 and a state; the callback carried both back
      assert.strictEqual(callbacks.length, 1)
      const back = new URL(callbacks[0]!)
      const state = back.searchParams.get("state")!
      const code = back.searchParams.get("code")!
      assert.isTrue(state.length >= 40 && code.length > 10)

      // stored encrypted: the raw file holds neither token
      const credential = await accessTokenOf("alice")
      const access = Redacted.value(credential.accessToken)
      const refresh = Redacted.value(credential.refreshToken!)
      const raw = readFileSync(storeFile)
      assert.isFalse(raw.includes(access))
      assert.isFalse(raw.includes(refresh))

      // a second call uses the stored token: no new elicitation
      assert.strictEqual(textOf(await c.client.callTool({ name: "downstream_whoami" })), "downstream says you are alice")
      assert.strictEqual(c.elicitations.length, 1)

      // replayed state (the same callback again, same browser and session): refused
      await alice.page.goto(back.href)
      assert.include(await alice.page.textContent("#error"), "expired or was already used")
      // a state that was never issued: refused
      const forged = new URL(back.href)
      forged.searchParams.set("state", "A".repeat(43))
      await alice.page.goto(forged.href)
      assert.include(await alice.page.textContent("#error"), "expired or was already used")
      // the error pages carry the same security headers as the credential pages
      const res = await alice.page.goto(back.href)
      const headers = res!.headers()
      assert.include(headers["content-security-policy"], "default-src 'none'")
      assert.include(headers["content-security-policy"], "frame-ancestors 'none'")
      assert.strictEqual(headers["referrer-policy"], "no-referrer")
      assert.strictEqual(headers["cache-control"], "no-store")

      // nothing logged a state, a code or a token (and the log is captured: the flow's lines are there)
      assert.isTrue(logs.some((l) => l.includes("downstream authorization stored")))
      for (const secret of [state, code, access, refresh]) {
        assert.isFalse(logs.some((l) => l.includes(secret)), "a secret reached the log")
      }
    } finally {
      await c.close()
      await alice.context.close()
    }
  }, 30_000)

  it("the connections page lists the stored authorization and disconnects it", async () => {
    // alice's token, stored by the flow above
    const stored = () => runStores(Effect.flatMap(CredentialStore.CredentialStore, (s) => s.get({ provider: "downstream", subject: "alice" })))
    assert.isTrue(Option.isSome(await stored()))
    const alice = await newUser()
    try {
      await alice.page.goto(`${baseUrl}/credentials/`)
      for (let i = 0; i < 6 && await alice.page.locator("#connections").count() === 0; i++) {
        if (await alice.page.locator('input[name="login"]').count() > 0) {
          await alice.page.fill('input[name="login"]', "alice")
          await alice.page.fill('input[name="password"]', "any-password")
          await Promise.all([alice.page.waitForNavigation(), alice.page.click('button[type="submit"]')])
        } else if (await alice.page.locator('input[name="prompt"][value="consent"]').count() > 0) {
          await Promise.all([alice.page.waitForNavigation(), alice.page.click('button[type="submit"]')])
        } else await alice.page.waitForTimeout(50)
      }
      assert.match(String(await alice.page.textContent("#c-downstream-status")), /^Connected since \d{4}-\d{2}-\d{2}/)
      assert.strictEqual(await alice.page.getAttribute("#c-downstream-connect", "href"), "/credentials/oauth/downstream/connect")
      await Promise.all([alice.page.waitForLoadState("load"), alice.page.click("#c-downstream-disconnect")])
      assert.strictEqual(await alice.page.textContent("#notice"), "Downstream disconnected.")
      assert.strictEqual(await alice.page.textContent("#c-downstream-status"), "Not connected")
      assert.isTrue(Option.isNone(await stored()))
    } finally {
      await alice.context.close()
    }
  })

  it("another user's browser is refused at the link and at the callback; the right user still can", async () => {
    await runStores(Effect.flatMap(CredentialStore.CredentialStore, (s) => s.delete({ provider: "downstream", subject: "alice" })))
    const bob = await newUser()
    const alice = await newUser()
    let link!: (url: string) => void
    const linkP = new Promise<string>((r) => (link = r))
    const c = await connectClient(mcp, INBOUND.alice, { url: true, onUrl: async (u) => link(u) })
    try {
      const call = c.client.callTool({ name: "downstream_whoami" })
      const url = await linkP
      const sent = callbacks.length
      // bob opens alice's link: refused after his sign-in, never sent to the provider
      await bob.page.goto(url)
      await authorizeIn(bob.page, "bob")
      assert.include(await bob.page.textContent("#error"), "made for a different user")
      assert.strictEqual(callbacks.length, sent)

      // alice's browser is at the provider's consent page with a fresh state; bob's browser presents
      // that state at the callback first: refused (bound to alice's browser session), and not
      // consumed (a refused attempt must not burn the user's authorization)
      await alice.page.goto(url)
      await authorizeIn(alice.page, "alice", { stopAtProviderConsent: true })
      const state = new URL(authorizes[authorizes.length - 1]!).searchParams.get("state")!
      const forged = `${baseUrl}/credentials/oauth/downstream/callback?code=${"c".repeat(43)}&state=${state}`
      await bob.page.goto(forged)
      assert.include(await bob.page.textContent("#error"), "not started in this browser")
      assert.isTrue(Option.isNone(await stored("alice")))
      assert.isTrue(Option.isNone(await stored("bob")))

      // alice consents: her state still works, and the call completes
      await Promise.all([alice.page.waitForNavigation(), alice.page.click('button[type="submit"]')])
      await authorizeIn(alice.page, "alice")
      assert.strictEqual(await alice.page.textContent("#authorized"), "Downstream authorized")
      assert.isTrue(Option.isNone(await stored("bob")))
      assert.strictEqual(textOf(await call), "downstream says you are alice")
    } finally {
      await c.close()
      await bob.context.close()
      await alice.context.close()
    }
  }, 30_000)

  it("access_denied at the provider: an error page and a tool error, nothing stored", async () => {
    const bob = await newUser()
    let browsing: Promise<void> = Promise.resolve()
    const c = await connectClient(mcp, INBOUND.bob, {
      url: true,
      onUrl: (url) => (browsing = (async () => {
        await bob.page.goto(url)
        await authorizeIn(bob.page, "bob", { deny: true })
      })())
    })
    try {
      const result = await c.client.callTool({ name: "downstream_whoami" })
      await browsing
      assert.isTrue(result.isError)
      assert.include(textOf(result), "Downstream authorization was denied at the provider")
      assert.include(await bob.page.textContent("#error"), "Access was denied at Downstream")
      assert.isTrue(Option.isNone(await stored("bob")))
    } finally {
      await c.close()
      await bob.context.close()
    }
  }, 30_000)

  it("an expired token with a dead refresh token (invalid_grant) starts a new authorization", async () => {
    const alice = await newUser()
    let browsing: Promise<void> = Promise.resolve()
    const c = await connectClient(mcp, INBOUND.alice, {
      url: true,
      onUrl: (url) => (browsing = (async () => {
        await alice.page.goto(url)
        await authorizeIn(alice.page, "alice")
      })())
    })
    try {
      const before = await accessTokenOf("alice")
      // the refresh token is redeemed elsewhere (rotation: it is dead now), and the access token expires
      const provider = auth.provider
      await Effect.runPromise(OAuthProvider.refresh(provider, { refreshToken: before.refreshToken! }))
      await runStores(Effect.flatMap(CredentialStore.CredentialStore, (s) =>
        s.set(
          { provider: "downstream", subject: "alice" },
          new ResolvedCredential.OAuthCredential({ ...before, expiresAt: DateTime.unsafeMake(Date.now() - 60_000) })
        )))

      const result = await c.client.callTool({ name: "downstream_whoami" })
      await browsing
      assert.strictEqual(c.elicitations.length, 1, "a new authorization was elicited")
      assert.isTrue(logs.some((l) => l.includes("downstream authorization required again (invalid_grant)")))
      assert.strictEqual(textOf(result), "downstream says you are alice")
      const after = await accessTokenOf("alice")
      assert.notStrictEqual(Redacted.value(after.accessToken), Redacted.value(before.accessToken))
    } finally {
      await c.close()
      await alice.context.close()
    }
  }, 30_000)

  it("fail-fast mode: -32042 with the link; the browser authorizes; the session is notified; the retry runs with the token", async () => {
    const bob = await newUser()
    const c = await connectClient(failFastMcp, INBOUND.bob, { url: true })
    try {
      const error = await c.client.callTool({ name: "downstream_whoami" }).then(() => undefined, (e: any) => e)
      assert.strictEqual(error?.code, -32042)
      // the seed's texts: the error says authorization, the link's text does not ask to return
      assert.include(error.message, "Downstream authorization required.")
      const elicitation = error.elicitations[0]
      assert.strictEqual(elicitation.message, "Downstream authorization required for 'bob'.\nOpen the link, sign in, and grant access.")
      assert.include(elicitation.url, `${failFastUrl}/credentials/oauth/downstream/start?t=`)
      await bob.page.goto(elicitation.url)
      await authorizeIn(bob.page, "bob")
      assert.strictEqual(await bob.page.textContent("#authorized"), "Downstream authorized")
      for (let i = 0; i < 50 && c.completed.length === 0; i++) await new Promise((r) => setTimeout(r, 20))
      assert.deepStrictEqual(c.completed, [elicitation.elicitationId])
      assert.strictEqual(textOf(await c.client.callTool({ name: "downstream_whoami" })), "downstream says you are bob")
    } finally {
      await c.close()
      await bob.context.close()
    }
  }, 30_000)
})
