/**
 * pat-elicitation on the v2 SDK (`@modelcontextprotocol/server` 2.x, protocol 2026-07-28): the same
 * provider, pages and tool as `main.ts`, served by `McpHttpServerV2` with a server per request.
 *
 * On 2026-07-28 there is no server→client request: the first call ends with an input-required
 * result holding a URL elicitation (the one-time link to the identity-bound page) and a sealed
 * `requestState` (AES-256-GCM under the vault's keyring: the user, an expiry and a digest of the
 * call; never a secret). The client opens the link, then retries the call with the
 * `requestState`; the server verifies and consumes it (single-use), waits for the form if the user
 * is not done yet, and runs the tool with the stored PAT. `Elicitation.layer` picks the era per
 * call, so the same server also serves 2025-era clients.
 *
 * Everything runs in this process on 127.0.0.1: an OpenID provider (`oidc-provider`, dev login:
 * any login name, any password), a fake Jira that accepts two demo PATs, the MCP server, and a
 * scripted v2 client plus a scripted browser.
 *
 * Run:  npx tsc -b && node examples/dist/pat-elicitation/main-v2.js
 */
import * as HttpServer from "@effect/platform/HttpServer"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { McpAuth, StaticTokenVerifier } from "@mcp-credentials/auth"
import { CurrentCredential } from "@mcp-credentials/core"
import { McpCredentialsV2, McpHttpServer, McpHttpServerV2, ToolError } from "@mcp-credentials/server"
import {
  CredentialsPage,
  CredentialsProvider,
  CredentialsProviderError,
  CredentialStore,
  Elicitation,
  Keyring,
  PendingStore
} from "@mcp-credentials/vault"
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { McpServer } from "@modelcontextprotocol/server"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as jose from "jose"
// @ts-expect-error oidc-provider ships no type declarations
import Provider from "oidc-provider"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import * as Example from "../shared/example.js"
import { headline, ScriptedBrowser } from "./browser.js"

// -- DEMO values ------------------------------------------------------------------------------------

const JIRA_USERS: Record<string, string> = { "jira-pat-alice-7f3a9c": "Alice Example", "jira-pat-bob-2e8d41": "Bob Example" }
const MCP_TOKENS = { alice: "demo-mcp-token-alice-4b1e", bob: "demo-mcp-token-bob-9c2f" } as const
const PAGE_CLIENT = { id: "mcp-credentials-page", secret: "demo-page-client-secret-0123456789" }

const listen = (handler: Parameters<typeof createServer>[1]) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const server = createServer(handler)
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
      return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
    }),
    ({ server }) => Effect.promise(() => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r()))))
  )

// -- a fake Jira and the identity provider ------------------------------------------------------------

const startJira = listen((req, res) => {
  const name = JIRA_USERS[(req.headers.authorization ?? "").replace(/^Bearer /, "")]
  res.writeHead(name === undefined ? 401 : 200, { "content-type": "application/json" })
  res.end(JSON.stringify(name === undefined ? { error: "unauthorized" } : { displayName: name }))
})

const startIdp = Effect.gen(function*() {
  let provider: { callback: () => (req: unknown, res: unknown) => void } | undefined
  const { url: issuer } = yield* listen((req, res) => (provider === undefined ? res.writeHead(503).end() : provider.callback()(req, res)))
  const { privateKey } = yield* Effect.promise(() => jose.generateKeyPair("RS256", { extractable: true }))
  const key = { ...(yield* Effect.promise(() => jose.exportJWK(privateKey))), kid: "demo-idp-key", alg: "RS256", use: "sig" }
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
      findAccount: (_ctx: unknown, id: string) => ({ accountId: id, claims: () => ({ sub: id, preferred_username: id }) })
    }) as never
  }
  return { issuer, configure }
})

// -- the provider and the v2 server ---------------------------------------------------------------------

const makeJira = (jiraUrl: string) =>
  CredentialsProvider.make({
    name: "jira",
    title: "Jira",
    variables: {
      pat: { label: "Personal access token", type: "password", hint: "Profile → Personal Access Tokens → Create token" },
      site: { label: "Jira site", type: "url", hint: "https://yourcompany.atlassian.net", required: false }
    },
    guide: "## How to create a Jira personal access token\n\nProfile → **Personal Access Tokens** → **Create token**.",
    timeout: "5 minutes",
    validate: (fields) =>
      Effect.tryPromise({
        try: () => fetch(`${jiraUrl}/rest/api/2/myself`, { headers: { authorization: `Bearer ${Redacted.value(fields.pat!)}` } }),
        catch: () => new CredentialsProviderError.InvalidCredentialsError({ message: "Jira could not be reached; try again." })
      }).pipe(Effect.flatMap((res) =>
        res.ok ? Effect.void : new CredentialsProviderError.InvalidCredentialsError({ message: "Jira refused this token." })
      ))
  })

/** A server per request (2026-07-28 is stateless); the tool code is `main.ts`'s. */
const makeServer = (jiraUrl: string, jira: CredentialsProvider.CredentialsProvider) => <R>(runtime: Runtime.Runtime<R>) => {
  const server = new McpServer({ name: "pat-elicitation-example-v2", version: "0.1.0" })
  const tools = McpCredentialsV2.install(server, { runtime, context: McpAuth.toolServices })
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
  const http = yield* Layer.build(
    NodeHttpServer.layer(McpHttpServer.createClosingServer, { port: Example.listenPort(3018), host: "127.0.0.1" })
  )
  const address = Context.get(http, HttpServer.HttpServer).address
  if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
  const baseUrl = `http://127.0.0.1:${address.port}`
  idp.configure(CredentialsPage.redirectUri({ baseUrl }))

  const jira = makeJira(jiraApi.url)
  // the keyring seals stored credentials and the requestState; replicas share it (and Redis or
  // Postgres stores). MCP_CREDENTIALS_ENCRYPTION_KEY in production (Keyring.layerConfig).
  const keyring = Keyring.layer(Redacted.make(Keyring.generateSpec("demo")))
  const shared = Elicitation.layer.pipe(
    Layer.provideMerge(Layer.mergeAll(CredentialStore.layerMemory, PendingStore.layerMemory, keyring))
  )
  const app = Layer.mergeAll(
    CredentialsProvider.layer(jira, { baseUrl }),
    StaticTokenVerifier.layer({
      tokens: [
        { token: Redacted.make(MCP_TOKENS.alice), clientId: "demo-client", subject: "alice", claims: { sub: "alice", preferred_username: "alice" } },
        { token: Redacted.make(MCP_TOKENS.bob), clientId: "demo-client", subject: "bob", claims: { sub: "bob" } }
      ]
    })
  ).pipe(Layer.provideMerge(shared))
  const ctx = yield* Layer.build(
    McpHttpServerV2.serve({
      server: makeServer(jiraApi.url, jira),
      allowedHosts: McpHttpServerV2.localhostNames,
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
      `MCP endpoint (2026-07-28 and 2025-era clients): ${mcpUrl}`,
      `Send the header  Authorization: Bearer ${MCP_TOKENS.alice}  (DEMO token for user alice).`,
      `Identity provider: ${idp.issuer} (dev login: type "alice" and any password).`,
      `Demo Jira PATs: ${Object.keys(JIRA_USERS).join(", ")}`
    ])
  }
  return yield* Effect.promise(() => scriptedSession(mcpUrl, ctx))
})

/** What a user does, scripted: returns the exit code (0 when every step behaved as shown). */
const scriptedSession = async (mcpUrl: URL, ctx: Context.Context<any>): Promise<number> => {
  let failures = 0
  const check = (ok: boolean, what: string) => {
    console.log(`   ${ok ? "ok" : "UNEXPECTED"}: ${what}`)
    if (!ok) failures++
  }
  const textOf = (result: any) => ((result?.content ?? []) as Array<{ text?: string }>).map((c) => c.text ?? "").join("\n")

  // a v2 client on 2026-07-28; its driver answers the embedded URL elicitation and retries
  const client = new Client(
    { name: "pat-elicitation-client-v2", version: "0.1.0" },
    { capabilities: { elicitation: { url: {} } }, versionNegotiation: { mode: { pin: "2026-07-28" } } }
  )
  client.setRequestHandler("elicitation/create", async (request: any) => {
    const params = request.params as { mode?: string; message: string; url: string }
    if (params.mode !== "url") return { action: "decline" }
    console.log(`   <- input required: elicitation/create (mode url): ${params.message.split("\n")[0]}`)
    console.log(`      the client shows the link's host (${new URL(params.url).host}) and the user opens it`)
    const bob = new ScriptedBrowser()
    const refused = await bob.open(params.url, "bob")
    console.log(`   [bob's browser] opens alice's link, signs in as bob -> ${refused.status}`)
    check(refused.status === 403, "another user is refused")
    const browser = new ScriptedBrowser()
    const form = await browser.open(params.url, "alice")
    const saved = await browser.submit(form, { pat: "jira-pat-alice-7f3a9c", site: "" })
    console.log(`   [alice's browser] signs in as alice, submits her PAT -> ${saved.status} "${headline(saved)}"`)
    console.log(`   -> the client retries tools/call with the requestState`)
    return { action: "accept" }
  })
  await client.connect(new StreamableHTTPClientTransport(mcpUrl, { requestInit: { headers: { authorization: `Bearer ${MCP_TOKENS.alice}` } } }))
  check(client.getProtocolEra() === "modern", "the client speaks 2026-07-28")

  Example.section("1. alice calls jira_myself (2026-07-28): input required → the page → the retry runs")
  console.log(`-> jira_myself`)
  const first = await client.callTool({ name: "jira_myself" })
  console.log(`   <- ${textOf(first)}`)
  check(textOf(first) === "You are Alice Example on Jira.", "the retried call ran with alice's PAT")

  Example.section("2. the requestState is sealed and single-use")
  const run = <A, E>(effect: Effect.Effect<A, E, any>) =>
    Effect.runPromise(Effect.provide(effect, ctx).pipe(Effect.provide(Example.logToStderr)))
  await run(CredentialsProvider.invalidate("jira", "alice"))
  // one leg by hand (allowInputRequired): the value the client holds between the two legs
  const leg = await client.callTool({ name: "jira_myself" }, { allowInputRequired: true } as any) as any
  check(leg.resultType === "input_required" && typeof leg.requestState === "string", "input-required result with a requestState")
  check(!String(leg.requestState).includes("alice"), "the requestState is opaque (sealed: no user, no link, no secret)")
  const tampered = `${leg.requestState.slice(0, -4)}AAAA`
  const refused = await client.callTool({ name: "jira_myself", requestState: tampered } as any, { allowInputRequired: true } as any)
  console.log(`   tampered requestState -> ${textOf(refused)}`)
  check((refused as any).isError === true, "a tampered requestState is refused")
  const browser = new ScriptedBrowser()
  const form = await browser.open(leg.inputRequests.jira.params.url, "alice")
  await browser.submit(form, { pat: "jira-pat-alice-7f3a9c", site: "" })
  const ok = await client.callTool({ name: "jira_myself", requestState: leg.requestState } as any, { allowInputRequired: true } as any)
  console.log(`   retry with the requestState -> ${textOf(ok)}`)
  check(textOf(ok) === "You are Alice Example on Jira.", "the retry runs")
  const replay = await client.callTool({ name: "jira_myself", requestState: leg.requestState } as any, { allowInputRequired: true } as any)
  console.log(`   the same requestState again -> ${textOf(replay)}`)
  check((replay as any).isError === true, "a replayed requestState is refused")

  await client.close()
  console.log(failures === 0 ? "\nDone: every step behaved as shown." : `\n${failures} step(s) did not behave as shown.`)
  return failures === 0 ? 0 : 1
}

Example.run(program.pipe(Effect.provide(Example.logToStderr)) as Effect.Effect<number | void, never, Scope.Scope>)
