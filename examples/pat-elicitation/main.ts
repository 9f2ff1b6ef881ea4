/**
 * pat-elicitation: a Jira-like tool that needs each user's own personal access token (PAT). The
 * token is never configured on the server and never passes through the model: the first call asks
 * the user, through MCP URL elicitation (2025-11-25), to open a link, sign in, and paste the PAT
 * into a form the server hosts; the PAT is checked against Jira, stored encrypted per user, and
 * the tool call carries on with it.
 *
 * Shows: `CredentialsProvider.make` (variables, Markdown guide, `validate`), its layer as the
 * tool's named credential (`credentials: CredentialsProvider.declaration(jira)`), the pages on the
 * MCP server's router (`CredentialsPage.router`, with the OpenID Connect sign-in that binds the
 * browser to the user), the encrypted file store, a client without URL elicitation being sent to
 * the connect page, and the operator functions (`list`, `invalidate`).
 *
 * Everything runs in this process on 127.0.0.1: an OpenID provider (`oidc-provider` with its dev
 * login page: any login name, any password), a fake Jira that accepts two demo PATs, the MCP
 * server, and a scripted MCP client plus a scripted browser. MCP callers authenticate with static
 * demo tokens here; in production verify the same identity provider's access tokens with
 * `JwtVerifier` (see examples/jwt-jwks).
 *
 * Run:  npm run example:pat-elicitation
 *       node examples/dist/pat-elicitation/main.js --serve   (keeps serving; PORT=3008 to pick the port)
 */
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { McpAuth, StaticTokenVerifier, type TokenVerifier } from "@mcp-credentials/auth"
import { CurrentCredential } from "@mcp-credentials/core"
import { McpCredentials, McpHttpServer, ToolError } from "@mcp-credentials/server"
import {
  CredentialsPage,
  CredentialsProvider,
  CredentialsProviderError,
  type CredentialStore,
  Elicitation,
  FileStore,
  Keyring,
  type PendingStore
} from "@mcp-credentials/vault"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { ElicitationCompleteNotificationSchema, ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as jose from "jose"
// @ts-expect-error oidc-provider ships no type declarations
import Provider from "oidc-provider"
import * as fs from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as Example from "../shared/example.js"
import { headline, ScriptedBrowser } from "./browser.js"

// -- DEMO values ------------------------------------------------------------------------------------

/** PATs the fake Jira accepts (DEMO). */
const JIRA_USERS: Record<string, string> = { "jira-pat-alice-7f3a9c": "Alice Example", "jira-pat-bob-2e8d41": "Bob Example" }
/** MCP access tokens (DEMO; in production: JWTs from the identity provider, checked by JwtVerifier). */
const MCP_TOKENS = { alice: "demo-mcp-token-alice-4b1e", bob: "demo-mcp-token-bob-9c2f" } as const
/** The credential pages' OpenID client at the identity provider (DEMO secret). */
const PAGE_CLIENT = { id: "mcp-credentials-page", secret: "demo-page-client-secret-0123456789" }

// -- a fake Jira: GET /rest/api/2/myself with `Authorization: Bearer <PAT>` -------------------------

const startJira = Effect.acquireRelease(
  Effect.promise(async () => {
    const server = createServer((req, res) => {
      const pat = (req.headers.authorization ?? "").replace(/^Bearer /, "")
      const name = JIRA_USERS[pat]
      res.writeHead(name === undefined ? 401 : 200, { "content-type": "application/json" })
      res.end(JSON.stringify(name === undefined ? { error: "unauthorized" } : { displayName: name }))
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
  }),
  ({ server }) => Effect.promise(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))))
)

// -- the identity provider (oidc-provider, dev login pages) ----------------------------------------

const startIdp = Effect.acquireRelease(
  Effect.promise(async () => {
    let provider: { callback: () => (req: unknown, res: unknown) => void } | undefined
    const server = createServer((req, res) => (provider === undefined ? res.writeHead(503).end() : provider.callback()(req, res)))
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const { privateKey } = await jose.generateKeyPair("RS256", { extractable: true })
    const key = { ...(await jose.exportJWK(privateKey)), kid: "demo-idp-key", alg: "RS256", use: "sig" }
    const configure = (redirectUri: string) => {
      provider = new Provider(issuer, {
        clients: [{
          client_id: PAGE_CLIENT.id,
          client_secret: PAGE_CLIENT.secret,
          grant_types: ["authorization_code"],
          response_types: ["code"],
          redirect_uris: [redirectUri]
        }],
        jwks: { keys: [key] },
        features: { devInteractions: { enabled: true } },
        cookies: { keys: ["demo-cookie-key-0123456789abcdef"] },
        ttl: { Interaction: 600, Session: 3600, Grant: 3600, AccessToken: 600, IdToken: 600 },
        // DEMO accounts: whatever login name is typed becomes the user's `sub`
        findAccount: (_ctx: unknown, id: string) => ({ accountId: id, claims: () => ({ sub: id, preferred_username: id }) })
      }) as never
    }
    return { issuer, configure, server }
  }),
  ({ server }) => Effect.promise(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))))
)

// -- the provider ---------------------------------------------------------------------------------------

const makeJira = (jiraUrl: string) =>
  CredentialsProvider.make({
    name: "jira",
    title: "Jira",
    variables: {
      pat: { label: "Personal access token", type: "password", hint: "Profile → Personal Access Tokens → Create token" },
      site: { label: "Jira site", type: "url", hint: "https://yourcompany.atlassian.net", required: false }
    },
    guide: [
      "## How to create a Jira personal access token",
      "",
      "1. In Jira, open your **profile** (top right) → **Personal Access Tokens**.",
      "2. Click **Create token**, name it `MCP`, and copy it.",
      "3. Paste it below. It is stored encrypted on the MCP server and never shown to the assistant."
    ].join("\n"),
    timeout: "5 minutes",
    ttl: "30 days",
    // try the PAT before storing it: a refused token is reported on the form, the link stays valid
    validate: (fields) =>
      Effect.tryPromise({
        try: () => fetch(`${jiraUrl}/rest/api/2/myself`, { headers: { authorization: `Bearer ${Redacted.value(fields.pat!)}` } }),
        catch: () => new CredentialsProviderError.InvalidCredentialsError({ message: "Jira could not be reached; try again." })
      }).pipe(Effect.flatMap((res) =>
        res.ok ? Effect.void : new CredentialsProviderError.InvalidCredentialsError({ message: "Jira refused this token." })
      ))
  })

// -- the MCP server ---------------------------------------------------------------------------------------

const makeServer = (jiraUrl: string, jira: CredentialsProvider.CredentialsProvider) => <R>(runtime: Runtime.Runtime<R>) => {
  const server = new McpServer({ name: "pat-elicitation-example", version: "0.1.0" })
  const tools = McpCredentials.install(server, { runtime, context: McpAuth.toolServices })
  tools.registerTool(
    "jira_myself",
    { description: "Your Jira profile, read with your own PAT.", credentials: CredentialsProvider.declaration(jira) },
    () =>
      Effect.gen(function*() {
        const { fields } = yield* CurrentCredential.getStatic("jira")
        const res = yield* Effect.promise(() =>
          fetch(`${jiraUrl}/rest/api/2/myself`, { headers: { authorization: `Bearer ${Redacted.value(fields.pat!)}` } })
        )
        if (!res.ok) return yield* new ToolError.ToolError({ message: `Jira answered ${res.status}` })
        const me = (yield* Effect.promise(() => res.json())) as { displayName: string }
        return `You are ${me.displayName} on Jira.`
      })
  )
  return server
}

const program = Effect.gen(function*() {
  const jiraApi = yield* startJira
  const idp = yield* startIdp

  // open the listening socket first: its URL is the pages' base URL and the IdP's redirect URI
  const http = yield* Layer.build(
    NodeHttpServer.layer(McpHttpServer.createClosingServer, { port: Example.listenPort(3008), host: "127.0.0.1" })
  )
  const address = Context.get(http, HttpServer.HttpServer).address
  if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
  const baseUrl = `http://127.0.0.1:${address.port}`
  idp.configure(CredentialsPage.redirectUri({ baseUrl }))

  const jira = makeJira(jiraApi.url)
  const storeDir = fs.mkdtempSync(path.join(os.tmpdir(), "mcp-credentials-pat-elicitation-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(storeDir, { recursive: true, force: true })))
  // the embedded default: one encrypted file (AES-256-GCM); the key comes from
  // MCP_CREDENTIALS_ENCRYPTION_KEY in production (Keyring.layerConfig), a random DEMO key here
  const stores = FileStore.layer({ directory: storeDir }).pipe(
    Layer.provide(Keyring.layer(Redacted.make(Keyring.generateSpec("demo"))))
  )
  const app = Layer.mergeAll(
    CredentialsProvider.layer(jira, { baseUrl, mode: "blocking" }),
    StaticTokenVerifier.layer({
      tokens: [
        { token: Redacted.make(MCP_TOKENS.alice), clientId: "demo-client", subject: "alice", claims: { sub: "alice", preferred_username: "alice" } },
        { token: Redacted.make(MCP_TOKENS.bob), clientId: "demo-client", subject: "bob", claims: { sub: "bob" } }
      ]
    })
  ).pipe(Layer.provideMerge(Layer.merge(stores, Elicitation.layer2025_11_25)))
  const ctx = yield* Layer.build(
    McpHttpServer.serve({
      server: makeServer(jiraApi.url, jira),
      allowedHosts: McpHttpServer.localhostNames,
      authenticate: McpAuth.authenticate({}),
      routes: CredentialsPage.router({
        baseUrl,
        providers: [jira],
        oidc: { issuer: idp.issuer, clientId: PAGE_CLIENT.id, clientSecret: Redacted.make(PAGE_CLIENT.secret) }
      })
    }).pipe(Layer.provideMerge(app), Layer.provide(Layer.succeedContext(http)))
  )
  const mcpUrl = new URL(`${baseUrl}/mcp`)

  if (Example.isServe) {
    return yield* Example.keepServing([
      ...Example.connectHelp(mcpUrl),
      ``,
      `Send the header  Authorization: Bearer ${MCP_TOKENS.alice}  (DEMO token for user alice).`,
      `Identity provider: ${idp.issuer} (dev login: type "alice" and any password).`,
      `Demo Jira PATs: ${Object.keys(JIRA_USERS).join(", ")}`
    ])
  }
  return yield* Effect.promise(() => scriptedSession(mcpUrl, baseUrl, storeDir, ctx))
})

/** What a user does, scripted: returns the exit code (0 when every step behaved as shown). */
const scriptedSession = async (mcpUrl: URL, baseUrl: string, storeDir: string, ctx: Context.Context<any>): Promise<number> => {
  let failures = 0
  const check = (ok: boolean, what: string) => {
    console.log(`   ${ok ? "ok" : "UNEXPECTED"}: ${what}`)
    if (!ok) failures++
  }
  const connect = async (token: string, urlElicitation: boolean, onUrl?: (url: string) => Promise<void>) => {
    const client = new Client(
      { name: "pat-elicitation-client", version: "0.1.0" },
      { capabilities: urlElicitation ? { elicitation: { url: {} } } : {} }
    )
    if (urlElicitation) {
      client.setRequestHandler(ElicitRequestSchema, async (request) => {
        if (request.params.mode !== "url") return { action: "decline" }
        console.log(`   <- elicitation/create (mode url): ${request.params.message.split("\n")[0]}`)
        console.log(`      the client shows the link's host (${new URL(request.params.url).host}) and the user agrees to open it`)
        void onUrl?.(request.params.url)
        return { action: "accept" }
      })
      client.setNotificationHandler(ElicitationCompleteNotificationSchema, () => {
        console.log(`   <- notifications/elicitation/complete`)
      })
    }
    await client.connect(new StreamableHTTPClientTransport(mcpUrl, { requestInit: { headers: { authorization: `Bearer ${token}` } } }))
    return client
  }

  Example.section("1. alice calls jira_myself; no PAT is stored for her yet")
  const alice = await connect(MCP_TOKENS.alice, true, async (url) => {
    // bob got hold of the link: he signs in as himself and is refused
    const bob = new ScriptedBrowser()
    const refused = await bob.open(url, "bob")
    console.log(`   [bob's browser] opens alice's link, signs in as bob -> ${refused.status} "${headline(refused).slice(0, 70)}..."`)
    check(refused.status === 403, "another user is refused")
    // alice signs in, makes a typo, then pastes the right PAT
    const browser = new ScriptedBrowser()
    const form = await browser.open(url, "alice")
    console.log(`   [alice's browser] opens the link, signs in at the identity provider as alice -> ${form.status} form`)
    const wrong = await browser.submit(form, { pat: "jira-pat-typo", site: "" })
    console.log(`   [alice's browser] submits a mistyped PAT -> ${wrong.status} "${headline(wrong)}" (the link is still valid)`)
    check(wrong.status === 422, "validate refused the wrong PAT before the link was used")
    const saved = await browser.submit(wrong, { pat: "jira-pat-alice-7f3a9c", site: "" })
    console.log(`   [alice's browser] submits her PAT -> ${saved.status} "${headline(saved)}"`)
    const replay = await browser.request(url)
    check(replay.status === 400, "the link cannot be used twice")
  })
  const first = await Example.call(alice, "jira_myself")
  check(first.text === "You are Alice Example on Jira.", "the tool ran with alice's PAT")

  Example.section("2. alice calls again: the stored PAT is used at once")
  const second = await Example.call(alice, "jira_myself")
  check(second.text === "You are Alice Example on Jira.", "no second elicitation")

  Example.section("3. the PAT is encrypted at rest")
  const raw = fs.readdirSync(storeDir).map((f) => fs.readFileSync(path.join(storeDir, f), "utf8")).join("")
  check(raw.length > 0 && !raw.includes("jira-pat-alice-7f3a9c"), `the store file (${fs.readdirSync(storeDir).join(", ")}) holds no plaintext PAT`)

  Example.section("4. bob's client cannot do URL elicitation: it is told where to connect (no one-time link)")
  const bob = await connect(MCP_TOKENS.bob, false)
  const told = await Example.call(bob, "jira_myself")
  check(told.isError && told.text.includes(`${baseUrl}/credentials/jira/connect`) && !told.text.includes("?t="), "a connect page, not a capability")
  const bobBrowser = new ScriptedBrowser()
  const form = await bobBrowser.open(`${baseUrl}/credentials/jira/connect`, "bob")
  const saved = await bobBrowser.submit(form, { pat: "jira-pat-bob-2e8d41", site: "" })
  console.log(`   [bob's browser] opens the connect page, signs in as bob, submits his PAT -> ${saved.status} "${headline(saved)}"`)
  const retried = await Example.call(bob, "jira_myself")
  check(retried.text === "You are Bob Example on Jira.", "bob's retry runs with his own PAT")

  Example.section("5. operators: list and invalidate")
  const run = <A, E>(effect: Effect.Effect<A, E, any>) =>
    Effect.runPromise(Effect.provide(effect, ctx).pipe(Effect.provide(Example.logToStderr)))
  for (const info of await run(CredentialsProvider.list({ provider: "jira" }))) {
    console.log(`   ${info.provider} / ${info.subject}: fields ${info.fields.join(", ")}`)
  }
  check(await run(CredentialsProvider.invalidate("jira", "alice")), "alice's PAT invalidated: her next call asks again")

  await alice.close()
  await bob.close()
  console.log(failures === 0 ? "\nDone: every step behaved as shown." : `\n${failures} step(s) did not behave as shown.`)
  return failures === 0 ? 0 : 1
}

Example.run(program.pipe(Effect.provide(Example.logToStderr)) as Effect.Effect<number | void, never, Scope.Scope>)
