/**
 * A whole deployment on loopback for the flow tests: a real OpenID provider (`oidc-provider`,
 * dev login/consent pages) that identifies the users, a fake downstream API that checks the PAT,
 * and an MCP server (`McpHttpServer` + `McpAuth` + the credentials provider and its pages) that
 * real MCP clients call. Plus a scripted "browser" (fetch with a cookie jar) for the HTTP tests.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { McpAuth, StaticTokenVerifier } from "@mcp-credentials/auth"
import { CurrentCredential } from "@mcp-credentials/core"
import { McpCredentials, McpCredentialsV2, McpHttpServer, McpHttpServerV2, ToolError } from "@mcp-credentials/server"
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from "@modelcontextprotocol/client"
import { McpServer as McpServerV2 } from "@modelcontextprotocol/server"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import {
  ElicitationCompleteNotificationSchema,
  ElicitRequestSchema,
  type ElicitResult
} from "@modelcontextprotocol/sdk/types.js"
import { Context, type Duration, Effect, Exit, Layer, Redacted, Scope } from "effect"
import { afterAll, afterEach, assert, beforeAll, vi } from "vitest"
import * as jose from "jose"
// @ts-expect-error oidc-provider ships no type declarations
import Provider from "oidc-provider"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import {
  ConnectionsPage,
  CredentialsPage,
  CredentialsProvider,
  CredentialsProviderError,
  CredentialStore,
  Elicitation,
  Keyring,
  PendingStore
} from "../src/index.js"

export const PATS: Record<string, string> = { "pat-alice-0123456789": "Alice Jira", "pat-bob-0123456789": "Bob Jira" }
export const PAGE_CLIENT = { id: "mcp-credentials-page", secret: "page-client-secret-0123456789abcdef" }

// -- a tiny HTTP server on loopback ---------------------------------------------------------------

const listen = async (handler: (req: IncomingMessage, res: ServerResponse) => void) => {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return { server, url, close }
}

// -- the fake downstream API ----------------------------------------------------------------------

export interface FakeApi {
  readonly url: string
  /** Every Authorization header it received. */
  readonly seen: Array<string>
  readonly close: () => Promise<void>
}

export const startFakeApi = async (): Promise<FakeApi> => {
  const seen: Array<string> = []
  const { close, url } = await listen((req, res) => {
    const auth = req.headers.authorization ?? ""
    seen.push(auth)
    const pat = auth.startsWith("Bearer ") ? auth.slice(7) : ""
    const name = PATS[pat]
    if (req.url === "/rest/api/2/myself" && name !== undefined) {
      res.writeHead(200, { "content-type": "application/json" })
      return res.end(JSON.stringify({ displayName: name }))
    }
    res.writeHead(401, { "content-type": "application/json" })
    res.end(JSON.stringify({ error: "unauthorized" }))
  })
  return { url, seen, close }
}

// -- the identity provider --------------------------------------------------------------------------

export interface Idp {
  readonly issuer: string
  /** Registers the credential pages' client with its redirect URI. */
  readonly configure: (redirectUri: string) => Promise<void>
  readonly close: () => Promise<void>
}

/** `trailingSlash`: the issuer ends in "/" (as Auth0's does), in discovery and in its tokens. */
export const startIdp = async (options: { readonly trailingSlash?: boolean } = {}): Promise<Idp> => {
  let provider: { callback: () => (req: unknown, res: unknown) => void } | undefined
  const { close, url } = await listen((req, res) => {
    if (provider === undefined) {
      res.writeHead(503)
      return res.end()
    }
    provider.callback()(req, res)
  })
  const { privateKey } = await jose.generateKeyPair("RS256", { extractable: true })
  const key = { ...(await jose.exportJWK(privateKey)), kid: "idp-key-1", alg: "RS256", use: "sig" }
  const redirectUris: Array<string> = []
  const issuer = options.trailingSlash === true ? `${url}/` : url
  return {
    issuer,
    configure: async (redirectUri) => {
      redirectUris.push(redirectUri)
      provider = new Provider(issuer, {
        clients: [{
          client_id: PAGE_CLIENT.id,
          client_secret: PAGE_CLIENT.secret,
          grant_types: ["authorization_code"],
          response_types: ["code"],
          redirect_uris: [...redirectUris],
          token_endpoint_auth_method: "client_secret_basic"
        }],
        jwks: { keys: [key] },
        pkce: { required: () => true },
        features: { devInteractions: { enabled: true } },
        cookies: { keys: ["a-cookie-signing-key-for-tests-0123456789"] },
        ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600 },
        findAccount: (_ctx: unknown, id: string) => ({ accountId: id, claims: () => ({ sub: id }) })
      } as never) as never
    },
    close
  }
}

// -- the MCP server ---------------------------------------------------------------------------------

export const TOKENS = {
  alice: "mcp-token-alice-0123456789",
  bob: "mcp-token-bob-0123456789",
  nosub: "mcp-token-nosub-0123456789"
} as const

export interface StackOptions {
  readonly mode?: Elicitation.Mode | undefined
  readonly timeout?: Duration.DurationInput | undefined
  /** Labels, hints and guide of the provider (the XSS tests put payloads here). */
  readonly labels?: { readonly pat?: string; readonly hint?: string; readonly guide?: string } | undefined
  readonly stores?: Layer.Layer<CredentialStore.CredentialStore | PendingStore.PendingStore, unknown> | undefined
  /** Share an identity provider and a fake API with another stack (two replicas). */
  readonly idp?: Idp | undefined
  readonly api?: FakeApi | undefined
  /** The SDK line of the MCP server. Default `"v1"`. */
  readonly line?: "v1" | "v2" | undefined
  /**
   * The elicitation era(s). Default: `Elicitation.layer2025_11_25` on v1, `Elicitation.layer`
   * (chosen per call: 2026-07-28 for 2026 clients) on v2.
   */
  readonly elicitation?: Layer.Layer<Elicitation.Elicitation, never, Keyring.Keyring | PendingStore.PendingStore> | undefined
  /** The keyring that seals request states (replicas share one). Default: a fresh key. */
  readonly keyring?: Layer.Layer<Keyring.Keyring, unknown> | undefined
}

export interface Stack {
  readonly mcpUrl: URL
  readonly baseUrl: string
  readonly idp: Idp
  readonly api: FakeApi
  readonly jira: CredentialsProvider.CredentialsProvider
  /** Runs an effect against the server's stores. */
  readonly runStores: <A, E>(effect: Effect.Effect<A, E, CredentialStore.CredentialStore | PendingStore.PendingStore>) => Promise<A>
  readonly close: () => Promise<void>
}

export const makeJira = (api: FakeApi, options: StackOptions = {}) =>
  CredentialsProvider.make({
    name: "jira",
    title: "Jira",
    variables: {
      pat: { label: options.labels?.pat ?? "Personal access token", type: "password", hint: options.labels?.hint ?? "ATBBxyz" },
      base_url: { label: "Base URL", type: "url", required: false }
    },
    guide: options.labels?.guide ?? "# How to get a PAT\n\nOpen *Profile → Personal Access Tokens* and create one.",
    timeout: options.timeout ?? "30 seconds",
    validate: (fields) =>
      Effect.tryPromise({
        try: () =>
          fetch(`${api.url}/rest/api/2/myself`, { headers: { authorization: `Bearer ${Redacted.value(fields.pat!)}` } }),
        catch: () => new CredentialsProviderError.InvalidCredentialsError({ message: "Jira could not be reached." })
      }).pipe(
        Effect.flatMap((res) =>
          res.ok ? Effect.void : new CredentialsProviderError.InvalidCredentialsError({ message: "Jira refused this token (401)." })
        )
      )
  })

const makeServer = (api: FakeApi, jira: CredentialsProvider.CredentialsProvider) => (runtime: any) => {
  const server = new McpServer({ name: "vault-test", version: "0.1.0" })
  const tools = McpCredentials.install(server, { runtime, context: McpAuth.toolServices })
  tools.registerTool(
    "jira_whoami",
    { description: "Who am I on Jira (per-user PAT).", credentials: CredentialsProvider.declaration(jira) },
    () =>
      Effect.gen(function*() {
        const credential = yield* CurrentCredential.getStatic("jira")
        const res = yield* Effect.promise(() =>
          fetch(`${api.url}/rest/api/2/myself`, { headers: { authorization: `Bearer ${Redacted.value(credential.fields.pat!)}` } })
        )
        if (!res.ok) return yield* new ToolError.ToolError({ message: `Jira answered ${res.status}` })
        const body = (yield* Effect.promise(() => res.json())) as { displayName: string }
        return `Jira says you are ${body.displayName}`
      })
  )
  tools.registerTool(
    "jira_echo_pat",
    { description: "A careless tool that returns the PAT (the scrubber must catch it).", credentials: CredentialsProvider.declaration(jira) },
    async () => `the PAT is ${McpCredentials.getField("pat", "jira")}`
  )
  return server
}

const makeServerV2 = (api: FakeApi, jira: CredentialsProvider.CredentialsProvider) => (runtime: any) => {
  const server = new McpServerV2({ name: "vault-test-v2", version: "0.1.0" })
  const tools = McpCredentialsV2.install(server, { runtime, context: McpAuth.toolServices })
  tools.registerTool(
    "jira_whoami",
    { description: "Who am I on Jira (per-user PAT).", credentials: CredentialsProvider.declaration(jira) },
    () =>
      Effect.gen(function*() {
        const credential = yield* CurrentCredential.getStatic("jira")
        const res = yield* Effect.promise(() =>
          fetch(`${api.url}/rest/api/2/myself`, { headers: { authorization: `Bearer ${Redacted.value(credential.fields.pat!)}` } })
        )
        if (!res.ok) return yield* new ToolError.ToolError({ message: `Jira answered ${res.status}` })
        const body = (yield* Effect.promise(() => res.json())) as { displayName: string }
        return `Jira says you are ${body.displayName}`
      })
  )
  tools.registerTool(
    "jira_echo_pat",
    { description: "A careless tool that returns the PAT (the scrubber must catch it).", credentials: CredentialsProvider.declaration(jira) },
    async () => `the PAT is ${McpCredentialsV2.getField("pat", "jira")}`
  )
  return server
}

export const startStack = async (options: StackOptions = {}): Promise<Stack> => {
  const api = options.api ?? await startFakeApi()
  const idp = options.idp ?? await startIdp()
  const jira = makeJira(api, options)
  const scope = Effect.runSync(Scope.make())
  const httpCtx = await Effect.runPromise(
    Layer.buildWithScope(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }), scope)
  )
  const address = Context.get(httpCtx, HttpServer.HttpServer).address
  if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  const baseUrl = `http://127.0.0.1:${address.port}`
  await idp.configure(CredentialsPage.redirectUri({ baseUrl }))

  const stores = options.stores ?? Layer.merge(CredentialStore.layerMemory, PendingStore.layerMemory)
  const v2 = options.line === "v2"
  const keyring = options.keyring ?? Keyring.layer(Redacted.make(Keyring.generateSpec("stack")))
  const shared = (options.elicitation ?? (v2 ? Elicitation.layer : Elicitation.layer2025_11_25)).pipe(
    Layer.provideMerge(Layer.merge(stores, keyring))
  )
  const app = Layer.mergeAll(
    CredentialsProvider.layer(jira, { baseUrl, mode: options.mode ?? "blocking" }),
    StaticTokenVerifier.layer({
      tokens: [
        { token: Redacted.make(TOKENS.alice), clientId: "mcp-client", subject: "alice", claims: { sub: "alice", preferred_username: "alice" } },
        { token: Redacted.make(TOKENS.bob), clientId: "mcp-client", subject: "bob", claims: { sub: "bob" } },
        { token: Redacted.make(TOKENS.nosub), clientId: "mcp-client" }
      ]
    })
  ).pipe(Layer.provideMerge(shared))
  const oidc = { issuer: idp.issuer, clientId: PAGE_CLIENT.id, clientSecret: Redacted.make(PAGE_CLIENT.secret) }
  const routes = HttpRouter.concat(
    CredentialsPage.router({ baseUrl, providers: [jira], oidc }),
    ConnectionsPage.router({ baseUrl, providers: [jira], oidc })
  )
  const serving = v2
    ? McpHttpServerV2.serve({
      server: makeServerV2(api, jira),
      allowedHosts: McpHttpServerV2.localhostNames,
      authenticate: McpAuth.authenticate({}),
      routes
    })
    : McpHttpServer.serve({
      server: makeServer(api, jira),
      allowedHosts: McpHttpServer.localhostNames,
      authenticate: McpAuth.authenticate({}),
      routes
    })
  const served = serving.pipe(Layer.provideMerge(app), Layer.provide(Layer.succeedContext(httpCtx)))
  const ctx = await Effect.runPromise(Layer.buildWithScope(served, scope))
  return {
    mcpUrl: new URL(`${baseUrl}/mcp`),
    baseUrl,
    idp,
    api,
    jira,
    runStores: (effect) => Effect.runPromise(Effect.provide(effect, ctx as Context.Context<any>)),
    close: async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      if (options.idp === undefined) await idp.close()
      if (options.api === undefined) await api.close()
    }
  }
}

// -- MCP clients ------------------------------------------------------------------------------------

export interface TestClient {
  readonly client: Client
  /** The elicitation requests received. */
  readonly elicitations: Array<Record<string, unknown>>
  /** The elicitationIds of `notifications/elicitation/complete` received. */
  readonly completed: Array<string>
  readonly close: () => Promise<void>
}

/**
 * A real MCP client. With `url: true` it declares `elicitation.url` and answers each URL
 * elicitation with `answer` (default: accept, after starting `onUrl` in the background).
 */
export const connectClient = async (
  stack: Stack,
  token: string,
  options: {
    readonly url?: boolean
    readonly onUrl?: (url: string) => Promise<void>
    readonly answer?: ElicitResult["action"]
  } = {}
): Promise<TestClient> => {
  const elicitations: Array<Record<string, unknown>> = []
  const completed: Array<string> = []
  const client = new Client(
    { name: "vault-test-client", version: "1.0.0" },
    { capabilities: options.url ? { elicitation: { url: {} } } : {} }
  )
  if (options.url) {
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      elicitations.push(request.params as Record<string, unknown>)
      const action = options.answer ?? "accept"
      if (action === "accept" && options.onUrl !== undefined && request.params.mode === "url") {
        void options.onUrl(request.params.url).catch((e) => console.error("browser failed", e))
      }
      return { action }
    })
    client.setNotificationHandler(ElicitationCompleteNotificationSchema, (n) => {
      completed.push(n.params.elicitationId)
    })
  }
  const transport = new StreamableHTTPClientTransport(stack.mcpUrl, { requestInit: { headers: { authorization: `Bearer ${token}` } } })
  await client.connect(transport)
  return { client, elicitations, completed, close: () => client.close() }
}

export interface TestClientV2 {
  readonly client: ClientV2
  /** The URL elicitations received (embedded in input-required results). */
  readonly elicitations: Array<Record<string, unknown>>
  readonly close: () => Promise<void>
}

/**
 * A real v2 client (`@modelcontextprotocol/client`, pinned to 2026-07-28) declaring
 * `elicitation.url`. Each URL elicitation of an input-required result is answered with `answer`
 * (default: accept); `onUrl` runs the user's browser, awaited before answering when
 * `awaitBrowser`, otherwise in the background (the retry then waits on the server for the form).
 */
export const connectClientV2 = async (
  stack: Stack,
  token: string,
  options: {
    readonly onUrl?: (url: string) => Promise<void>
    readonly awaitBrowser?: boolean
    readonly answer?: "accept" | "decline" | "cancel"
    /** Declare `elicitation.url` (default `true`). */
    readonly url?: boolean
  } = {}
): Promise<TestClientV2> => {
  const elicitations: Array<Record<string, unknown>> = []
  const url = options.url ?? true
  const client = new ClientV2(
    { name: "vault-test-client-v2", version: "1.0.0" },
    { capabilities: url ? { elicitation: { url: {} } } : {}, versionNegotiation: { mode: { pin: "2026-07-28" } } }
  )
  if (url) client.setRequestHandler("elicitation/create", async (request: any) => {
    const params = request.params as Record<string, unknown>
    elicitations.push(params)
    const action = options.answer ?? "accept"
    if (action === "accept" && options.onUrl !== undefined && params.mode === "url") {
      const opened = options.onUrl(String(params.url))
      if (options.awaitBrowser) await opened
      else void opened.catch((e) => console.error("browser failed", e))
    }
    return { action }
  })
  await client.connect(new TransportV2(stack.mcpUrl, { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
  return { client, elicitations, close: () => client.close() }
}

export type Line = "v1" | "v2"
export const LINES: ReadonlyArray<Line> = ["v1", "v2"]

export interface LineClient {
  /** Calls a tool; on v2 the client fulfils input-required results and retries by itself. */
  readonly callTool: (name: string) => Promise<any>
  /** The URL elicitations received (v1: `elicitation/create` requests; v2: embedded in input-required results). */
  readonly elicitations: Array<Record<string, unknown>>
  readonly close: () => Promise<void>
}

/**
 * A client of either line: v1 (2025-11-25: the call blocks while the user fills the form) or v2
 * (2026-07-28: the call ends input-required, the client's retry waits on the server for the form).
 * `elicitation.url` is declared unless `url: false`; `onUrl` runs the user's browser in the background.
 */
export const connectLine = async (
  line: Line,
  s: Stack,
  token: string,
  options: { readonly url?: boolean; readonly onUrl?: (url: string) => Promise<void>; readonly answer?: "accept" | "decline" | "cancel" } = {}
): Promise<LineClient> => {
  if (line === "v1") {
    const c = await connectClient(s, token, { ...options, url: options.url ?? true })
    return { callTool: (name) => c.client.callTool({ name }), elicitations: c.elicitations, close: c.close }
  }
  const c = await connectClientV2(s, token, options)
  return { callTool: (name) => c.client.callTool({ name }) as Promise<any>, elicitations: c.elicitations, close: c.close }
}

export const textOf = (result: unknown): string =>
  ((result as { content?: Array<{ text?: string }> }).content ?? []).map((c) => c.text ?? "").join("\n")

// -- a scripted browser ------------------------------------------------------------------------------

export interface Response_ {
  readonly status: number
  readonly url: string
  readonly body: string
  readonly headers: Headers
}

/** fetch with a cookie jar (per host:port) and manual redirects; records every response. */
export class Browser {
  readonly jar = new Map<string, Map<string, string>>()
  readonly history: Array<Response_> = []

  private cookieHeader(url: URL): string {
    const cookies = this.jar.get(url.host)
    return cookies === undefined ? "" : [...cookies].map(([k, v]) => `${k}=${v}`).join("; ")
  }

  private store(url: URL, headers: Headers) {
    for (const line of headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";")
      const eq = pair!.indexOf("=")
      const name = pair!.slice(0, eq).trim()
      const value = pair!.slice(eq + 1).trim()
      const cookies = this.jar.get(url.host) ?? new Map<string, string>()
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || attrs.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a))
      if (expired || value === "") cookies.delete(name)
      else cookies.set(name, value)
      this.jar.set(url.host, cookies)
    }
  }

  async request(url: string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Response_> {
    let target = new URL(url)
    let method = init.method ?? "GET"
    let body: string | undefined = init.form === undefined ? undefined : new URLSearchParams(init.form).toString()
    for (let hop = 0; hop < 20; hop++) {
      const headers: Record<string, string> = { ...init.headers }
      const cookie = this.cookieHeader(target)
      if (cookie !== "") headers.cookie = cookie
      if (body !== undefined) headers["content-type"] = "application/x-www-form-urlencoded"
      const res = await fetch(target, { method, headers, ...(body !== undefined ? { body } : {}), redirect: "manual" })
      this.store(target, res.headers)
      const text = await res.text()
      const response = { status: res.status, url: target.toString(), body: text, headers: res.headers }
      this.history.push(response)
      const location = res.headers.get("location")
      if (res.status >= 300 && res.status < 400 && location !== null) {
        target = new URL(location, target)
        method = "GET"
        body = undefined
        continue
      }
      return response
    }
    throw new Error("too many redirects")
  }

  /** Opens `url`; signs in as `user` at the dev IdP if asked to; returns the final page. */
  async open(url: string, user: string): Promise<Response_> {
    return this.through(await this.request(url), user)
  }

  /** Goes on from `page` through the dev IdP's login (as `user`) and consent pages, if shown. */
  async through(page: Response_, user: string): Promise<Response_> {
    for (let step = 0; step < 4; step++) {
      if (page.body.includes('name="prompt" value="login"')) {
        page = await this.request(new URL(formAction(page.body), page.url).toString(), {
          method: "POST",
          form: { prompt: "login", login: user, password: "any-password" }
        })
      } else if (page.body.includes('name="prompt" value="consent"')) {
        page = await this.request(new URL(formAction(page.body), page.url).toString(), { method: "POST", form: { prompt: "consent" } })
      } else {
        return page
      }
    }
    return page
  }

  /** Submits the credential form of `page` with `fields` (and its CSRF token). */
  submit(page: Response_, fields: Record<string, string>, extra: { csrf?: string; headers?: Record<string, string> } = {}) {
    return this.request(new URL(formAction(page.body), page.url).toString(), {
      method: "POST",
      form: { _csrf: extra.csrf ?? hidden(page.body, "_csrf"), ...fields },
      ...(extra.headers !== undefined ? { headers: extra.headers } : {})
    })
  }
}

const decode = (s: string) =>
  s.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))).replace(/&amp;/g, "&").replace(/&quot;/g, '"')

export const formAction = (html: string): string => {
  const m = /<form[^>]*action="([^"]*)"/.exec(html)
  if (m === null) throw new Error(`no form in page: ${html.slice(0, 300)}`)
  return decode(m[1]!)
}

export const hidden = (html: string, name: string): string => {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html)
  if (m === null) throw new Error(`no hidden ${name}`)
  return decode(m[1]!)
}

/** The text of the error paragraph of a page. */
export const errorText = (html: string): string => {
  const m = /id="error"[^>]*>([^<]*)</.exec(html)
  return m === null ? "" : decode(m[1]!)
}

export type { Server }

/**
 * A stack for a whole suite: started before its tests (console warn/info muted), closed after
 * them; alice's and bob's stored credentials are revoked after each test. `set` receives the
 * stack once started.
 */
export const useSuiteStack = (options: StackOptions, set: (stack: Stack) => void): void => {
  let stack: Stack | undefined
  beforeAll(async () => {
    vi.spyOn(console, "warn").mockImplementation(() => undefined)
    vi.spyOn(console, "info").mockImplementation(() => undefined)
    stack = await startStack(options)
    set(stack)
  })
  afterAll(async () => {
    await stack?.close()
    vi.restoreAllMocks()
  })
  afterEach(async () => {
    await stack!.runStores(CredentialsProvider.revoke("alice"))
    await stack!.runStores(CredentialsProvider.revoke("bob"))
  })
}

/** Alice's browser: signs in as alice and submits her PAT on the page at the elicited URL. */
export const aliceFillsTheForm = (pat = "pat-alice-0123456789") => async (url: string) => {
  const browser = new Browser()
  const form = await browser.open(url, "alice")
  assert.strictEqual(form.status, 200, form.body.slice(0, 400))
  const done = await browser.submit(form, { pat, base_url: "" })
  assert.strictEqual(done.status, 200, errorText(done.body))
}
