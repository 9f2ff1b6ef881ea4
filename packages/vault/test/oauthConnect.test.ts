/**
 * OAuthAuthorization's `connect` page (for clients without URL elicitation) against a real
 * OpenID provider (oidc-provider on loopback, as the page's identity provider and as the
 * downstream provider): a GET only asks; the authorization starts on the page's own POST (CSRF
 * token, same origin), so a page elsewhere that sends a signed-in browser there cannot replace the
 * stored access (connect CSRF).
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Context, Effect, Exit, Layer, Option, Redacted, Scope } from "effect"
import * as jose from "jose"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
// @ts-expect-error no types
import Provider from "oidc-provider"
import { afterAll, assert, beforeAll, describe, it, vi } from "vitest"
import { CredentialsPage, CredentialStore, Elicitation, OAuthAuthorization, OAuthProvider, PendingStore, VaultError } from "../src/index.js"
import { Browser, errorText, hidden } from "./stack.js"

const PAGE = { id: "mcp-credentials-page", secret: "page-client-secret-0123456789abcdef" }
const DOWN = { id: "downstream-app", secret: "downstream-app-secret-0123456789" }

describe("OAuthAuthorization connect page", () => {
  const scope = Effect.runSync(Scope.make())
  let baseUrl: string
  let idpServer: ReturnType<typeof createServer>
  let mem: Effect.Effect.Success<typeof PendingStore.makeMemoryWithSize>
  let creds: CredentialStore.CredentialStore["Type"]
  /** The paths of the requests the provider received, and whether the store refuses writes. */
  const seen: Array<{ path: string; status: number }> = []
  let failWrites = false

  beforeAll(async () => {
    for (const m of ["info", "warn"] as const) vi.spyOn(console, m).mockImplementation(() => undefined)
    const httpCtx = await Effect.runPromise(Layer.buildWithScope(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }), scope))
    baseUrl = `http://127.0.0.1:${(Context.get(httpCtx, HttpServer.HttpServer).address as { port: number }).port}`
    let provider: any
    idpServer = createServer((req, res) => {
      const entry = { path: new URL(req.url ?? "/", "http://idp").pathname, status: 0 }
      seen.push(entry)
      res.on("finish", () => (entry.status = res.statusCode))
      provider.callback()(req, res)
    })
    await new Promise<void>((r) => idpServer.listen(0, "127.0.0.1", r))
    const issuer = `http://127.0.0.1:${(idpServer.address() as AddressInfo).port}`
    const { privateKey } = await jose.generateKeyPair("RS256", { extractable: true })
    provider = new Provider(issuer, {
      clients: [
        { client_id: PAGE.id, client_secret: PAGE.secret, grant_types: ["authorization_code"], response_types: ["code"], redirect_uris: [`${baseUrl}/credentials/callback`] },
        { client_id: DOWN.id, client_secret: DOWN.secret, grant_types: ["authorization_code"], response_types: ["code"], redirect_uris: [`${baseUrl}/credentials/oauth/downstream/callback`] }
      ],
      scopes: ["openid", "api:read"],
      jwks: { keys: [{ ...(await jose.exportJWK(privateKey)), kid: "k1", alg: "RS256", use: "sig" }] },
      pkce: { required: () => true },
      findAccount: async (_c: unknown, id: string) => ({ accountId: id, claims: async () => ({ sub: id, preferred_username: id }) }),
      cookies: { keys: ["k-0123456789abcdef0123456789"] },
      features: { devInteractions: { enabled: true }, revocation: { enabled: true } }
    })
    const down = await Effect.runPromise(
      OAuthProvider.make({ name: "downstream", issuer, clientId: DOWN.id, clientSecret: Redacted.make(DOWN.secret), scopes: ["openid", "api:read"] })
    )
    const auth = OAuthAuthorization.make({ provider: down, title: "Downstream" })
    const oidc = { issuer, clientId: PAGE.id, clientSecret: Redacted.make(PAGE.secret) }
    mem = Effect.runSync(PendingStore.makeMemoryWithSize)
    const memory = Effect.runSync(CredentialStore.makeMemory)
    creds = CredentialStore.CredentialStore.of({
      ...memory,
      set: (key, credential, options) =>
        failWrites ? Effect.fail(new VaultError.StoreError({ backend: "memory", operation: "set", cause: "down" })) : memory.set(key, credential, options)
    })
    const services = Layer.mergeAll(
      Layer.succeed(PendingStore.PendingStore, mem.store),
      Layer.succeed(CredentialStore.CredentialStore, creds),
      Elicitation.layer2025_11_25
    )
    const router = CredentialsPage.router({ baseUrl, providers: [], oidc }).pipe(
      HttpRouter.concat(OAuthAuthorization.router({ baseUrl, authorizations: [auth], oidc }))
    )
    await Effect.runPromise(
      Layer.buildWithScope(HttpServer.serve(router).pipe(Layer.provide(services), Layer.provide(Layer.succeedContext(httpCtx))), scope)
    )
  })
  afterAll(async () => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    idpServer.closeAllConnections()
    await new Promise((r) => idpServer.close(r))
    vi.restoreAllMocks()
  })

  const stored = async () => {
    const s = await Effect.runPromise(creds.get({ provider: "downstream", subject: "alice" }))
    return Option.isSome(s) && s.value.credential.type === "oauth" ? Redacted.value(s.value.credential.accessToken) : undefined
  }
  it("fix: a GET only asks; the page's own POST authorizes; a forced GET, a POST without the token or from another site change nothing", async () => {
    const connect = `${baseUrl}/credentials/oauth/downstream/connect`
    const alice = new Browser()
    // first visit: sign in, then the question (nothing authorized yet)
    const asked = await alice.open(connect, "alice")
    assert.strictEqual(asked.status, 200)
    assert.include(asked.body, 'id="continue"')
    assert.isUndefined(await stored())
    // she continues: the authorization runs and the access is stored
    const done = await alice.through(await alice.request(connect, { method: "POST", form: { _csrf: hidden(asked.body, "_csrf") } }), "alice")
    assert.strictEqual(done.status, 200)
    assert.include(done.body, "Downstream authorized")
    const first = await stored()
    assert.isString(first)

    // a page elsewhere sends her browser to /connect (a top-level GET: her cookies go along)
    const forced = await alice.request(connect, { headers: { "sec-fetch-site": "cross-site" } })
    assert.strictEqual(forced.status, 200)
    assert.include(forced.body, 'id="continue"', "asked, not authorized")
    assert.strictEqual(await stored(), first)
    // or posts to it: without the page's token, or from another origin
    assert.strictEqual((await alice.request(connect, { method: "POST", form: {} })).status, 403)
    const crossSite = await alice.request(connect, {
      method: "POST",
      form: { _csrf: hidden(forced.body, "_csrf") },
      headers: { origin: "https://evil.example" }
    })
    assert.strictEqual(crossSite.status, 403)
    assert.strictEqual(await stored(), first)
  })

  it("fix: a callback for a used or expired link redeems no code; tokens that cannot be stored are revoked at the provider", async () => {
    const connect = `${baseUrl}/credentials/oauth/downstream/connect`
    const start = (id: string) => `${baseUrl}/credentials/oauth/downstream/start?t=${encodeURIComponent(id)}`
    const since = (n: number, path: string) => seen.slice(n).filter((r) => r.path === path)
    const carol = new Browser()
    assert.strictEqual((await carol.open(connect, "carol")).status, 200) // signed in at the pages

    // the link is used up (or expires) while she is at the provider's consent page
    const link = await Effect.runPromise(mem.store.create({ provider: "oauth:downstream", subject: "carol", data: {} }, "5 minutes"))
    const atProvider = await carol.request(start(link.id))
    assert.include(atProvider.body, 'name="prompt" value="consent"', "paused at the provider")
    assert.isTrue(Option.isSome(await Effect.runPromise(mem.store.take(link.id))))
    let mark = seen.length
    const late = await carol.through(atProvider, "carol")
    assert.strictEqual(late.status, 400)
    assert.strictEqual(errorText(late.body), "Invalid or expired authorization request.")
    assert.include(late.headers.get("content-security-policy") ?? "", "frame-ancestors 'none'")
    assert.deepStrictEqual(since(mark, "/token"), [], "the code of a used link is not redeemed")
    assert.isUndefined(await Effect.runPromise(creds.get({ provider: "downstream", subject: "carol" })).then(Option.getOrUndefined))

    // the code is redeemed but the store refuses the tokens: they are sent back to the provider
    const link2 = await Effect.runPromise(mem.store.create({ provider: "oauth:downstream", subject: "carol", data: {} }, "5 minutes"))
    const waiting = Effect.runPromise(mem.store.await(link2.id, "20 seconds"))
    mark = seen.length
    failWrites = true
    let page: Awaited<ReturnType<Browser["request"]>>
    try {
      page = await carol.through(await carol.request(start(link2.id)), "carol")
    } finally {
      failWrites = false
    }
    assert.strictEqual(page.status, 503)
    assert.strictEqual(since(mark, "/token").length, 1)
    const revocations = since(mark, "/token/revocation")
    assert.strictEqual(revocations.length, 1, "the access token (no refresh token is issued to this client) is revoked")
    assert.deepStrictEqual(revocations.map((r) => r.status), [200])
    assert.deepStrictEqual(Option.getOrUndefined(await waiting), { status: "error", reason: "failed" })
  })
})
