/**
 * gateway-headers: hosted mode. A gateway in front of a multi-tenant MCP server injects each
 * user's credential as `X-MCP-Cred-*` headers, and signs them.
 *
 * Shows: `HeaderCredentialBackend.layer({ gatewaySecret })` (the secret read with
 * `Config.redacted("MCP_GATEWAY_SECRET")`) accepts credential headers only with a valid
 * `X-MCP-Gateway-Signature` (HMAC-SHA256 over the credential headers and a timestamp). The tiny
 * gateway below is client side: a `fetch` that adds the user's headers and signs every request
 * with `HeaderCredentialBackend.signGatewayHeaders`. Each user gets their own credential; tools
 * never see the credential or gateway headers; unsigned, tampered and stale headers are refused.
 * (`gatewayScheme: "secret"` is the simpler alternative: the gateway sends the shared secret in
 * `X-MCP-Gateway-Secret`.)
 *
 * Run:  npm run example:gateway-headers
 *       node examples/dist/gateway-headers/main.js --serve   (keeps serving; PORT=3003 to pick the port)
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { type CredentialBackend, CurrentCredential, HeaderCredentialBackend } from "@mcp-credentials/core"
import { McpCredentials, McpHttpServer, ToolContext, ToolError } from "@mcp-credentials/server"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Runtime from "effect/Runtime"
import * as Downstream from "../shared/downstream.js"
import * as Example from "../shared/example.js"
import * as FakeApi from "../shared/fakeApi.js"

/** DEMO VALUES ONLY. */
const demo = {
  gatewaySecret: "demo-gateway-secret-5b0e8c1d9a",
  aliceKey: "sk-demo-alice-3a9f1c",
  bobKey: "sk-demo-bob-7d2e60",
  malloryKey: "sk-demo-mallory-0c4b22"
}
Example.demoDefault("MCP_GATEWAY_SECRET", demo.gatewaySecret)

// -- the MCP server -------------------------------------------------------------------------------

type Services = CredentialBackend.CredentialBackend | HttpClient.HttpClient

/** The Header backend, with the gateway secret from config (a `Redacted` from the start). */
const BackendLayer = Layer.unwrapEffect(
  Effect.map(Config.redacted("MCP_GATEWAY_SECRET"), (gatewaySecret) => HeaderCredentialBackend.layer({ gatewaySecret }))
)

const AppLayer = Layer.mergeAll(BackendLayer, Downstream.layer, Example.logToStderr)

const makeServer = (apiUrl: string) => (runtime: Runtime.Runtime<Services>) => {
  const server = new McpServer({ name: "gateway-headers-example", version: "0.1.0" })
  const tools = McpCredentials.install(server, { runtime })

  tools.registerTool(
    "list_tickets",
    { description: "The caller's open tickets (the gateway injects their API key).", credentials: "static" },
    () =>
      Effect.gen(function*() {
        const { fields } = yield* CurrentCredential.getStatic()
        const apiKey = fields.apiKey
        if (apiKey === undefined) return yield* new ToolError.ToolError({ message: "The credential has no apiKey field." })
        const body = yield* Effect.flatMap(Downstream.get(`${apiUrl}/tickets`, { apiKey }), Downstream.ok)
        return { account: body.user, tickets: body.items }
      })
  )

  tools.registerTool(
    "visible_headers",
    { description: "The request headers a tool can see. Needs no credential." },
    () => Effect.map(ToolContext.ToolContext, (ctx) => ({ headers: Object.keys(ctx.headers).sort() }))
  )
  return server
}

// -- the gateway (client side) --------------------------------------------------------------------

/**
 * A `fetch` for the MCP client that does what a gateway does: inject the user's credential headers
 * into every request and sign them, so the server can tell them from headers anyone could send.
 */
const gatewayFetch = (
  secret: Redacted.Redacted<string>,
  credentialHeaders: Record<string, string>
): FetchLike =>
(url, init) => {
  const headers = new Headers(init?.headers)
  for (const [name, value] of Object.entries(credentialHeaders)) headers.set(name, value)
  const proof = HeaderCredentialBackend.signGatewayHeaders(credentialHeaders, secret) // fresh timestamp per request
  for (const [name, value] of Object.entries(proof)) headers.set(name, value)
  return fetch(url, { ...init, headers })
}

const fieldsHeader = (apiKey: string) => ({ "X-MCP-Cred-Fields": JSON.stringify({ apiKey }) })

// -- main -----------------------------------------------------------------------------------------

const main = Effect.gen(function*() {
  const api = yield* FakeApi.make({
    name: "tickets-api",
    accept: { [demo.aliceKey]: "alice", [demo.bobKey]: "bob", [demo.malloryKey]: "mallory" },
    respond: ({ user }) => ({ items: user === "alice" ? ["T-101 login bug", "T-107 docs"] : [`T-2${user.length}0 ${user}'s task`] })
  })
  const url = yield* Example.serveHttp(
    McpHttpServer.layer({ port: Example.listenPort(3003), server: makeServer(api.url) }).pipe(Layer.provide(AppLayer))
  )
  if (Example.isServe) {
    return yield* Example.keepServing([
      `gateway-headers example (fake Tickets API on ${api.url})`,
      ...Example.connectHelp(url),
      "",
      "Credential headers must be signed with MCP_GATEWAY_SECRET (see HeaderCredentialBackend.signGatewayHeaders)."
    ])
  }

  console.log(`gateway-headers: MCP server ${url.href}, fake Tickets API ${api.url}`)
  const secret = Redacted.make(process.env.MCP_GATEWAY_SECRET ?? demo.gatewaySecret)
  yield* Effect.promise(async () => {
    Example.section("alice, through the gateway (headers signed)")
    const alice = await Example.connect(url, {
      fetch: gatewayFetch(secret, fieldsHeader(demo.aliceKey)),
      headers: { "X-Request-Id": "req-alice-1" }
    })
    await Example.listTools(alice)
    await Example.call(alice, "list_tickets")
    await Example.call(alice, "visible_headers")
    Example.note("no x-mcp-cred-* or x-mcp-gateway-* header is visible to tools")

    Example.section("bob, through the gateway: his own credential")
    const bob = await Example.connect(url, { fetch: gatewayFetch(secret, fieldsHeader(demo.bobKey)) })
    await Example.call(bob, "list_tickets")

    Example.section("mallory, straight to the server with an unsigned credential header")
    const unsigned = await Example.connect(url, { headers: fieldsHeader(demo.malloryKey) })
    await Example.call(unsigned, "list_tickets")

    Example.section("mallory replays alice's signature with her own credential header")
    const aliceProof = HeaderCredentialBackend.signGatewayHeaders(fieldsHeader(demo.aliceKey), secret)
    const tampered = await Example.connect(url, { headers: { ...fieldsHeader(demo.malloryKey), ...aliceProof } })
    await Example.call(tampered, "list_tickets")

    Example.section("a signature from 10 minutes ago (replayed)")
    const staleProof = HeaderCredentialBackend.signGatewayHeaders(fieldsHeader(demo.aliceKey), secret, {
      timestamp: Date.now() / 1000 - 600
    })
    const stale = await Example.connect(url, { headers: { ...fieldsHeader(demo.aliceKey), ...staleProof } })
    await Example.call(stale, "list_tickets")

    for (const client of [alice, bob, unsigned, tampered, stale]) await client.close()
  })
})

Example.run(main)
