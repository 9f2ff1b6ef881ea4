/**
 * mode-switch: one server, two deployments. `CredentialBackend.layerFromMode` picks the backend
 * from `MCP_CREDENTIAL_MODE` when the layer is built:
 *   - `oss` (the default): the Env backend, a single-tenant server reading `NOTES_FIELD_apiKey`;
 *   - `hosted`: the Header backend, a multi-tenant server whose gateway injects `X-MCP-Cred-Fields`
 *     (configure `header.gatewaySecret` in production: see the gateway-headers example);
 *   - anything else fails the layer with a `ConfigError` naming the variable.
 * The tool code is the same in both modes.
 *
 * Run:  npm run example:mode-switch   (the scripted session builds the server once per mode)
 *       MCP_CREDENTIAL_MODE=hosted node examples/dist/mode-switch/main.js --serve   (PORT=3004)
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { CredentialBackend, CurrentCredential } from "@mcp-credentials/core"
import { McpCredentials, McpHttpServer, ToolError } from "@mcp-credentials/server"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Runtime from "effect/Runtime"
import * as Downstream from "../shared/downstream.js"
import * as Example from "../shared/example.js"
import * as FakeApi from "../shared/fakeApi.js"

/** DEMO VALUES ONLY: the server's own key (oss mode) and a hosted user's key. */
const demo = { serverKey: "sk-demo-notes-server-2b7c", hostedUserKey: "sk-demo-notes-user-91fa" }
Example.demoDefault("NOTES_FIELD_apiKey", demo.serverKey)

type Services = CredentialBackend.CredentialBackend | HttpClient.HttpClient

const makeServer = (apiUrl: string) => (runtime: Runtime.Runtime<Services>) => {
  const server = new McpServer({ name: "mode-switch-example", version: "0.1.0" })
  const tools = McpCredentials.install(server, { runtime })
  tools.registerTool(
    "list_notes",
    { description: "The account's notes from the Notes API.", credentials: "static" },
    () =>
      Effect.gen(function*() {
        const { fields } = yield* CurrentCredential.getStatic()
        const apiKey = fields.apiKey
        if (apiKey === undefined) return yield* new ToolError.ToolError({ message: "The credential has no apiKey field." })
        const body = yield* Effect.flatMap(Downstream.get(`${apiUrl}/notes`, { apiKey }), Downstream.ok)
        return { account: body.user, notes: body.items }
      })
  )
  return server
}

/** The server, its backend chosen by MCP_CREDENTIAL_MODE when the layer is built. */
const serverLayer = (apiUrl: string) =>
  McpHttpServer.layer({ port: Example.listenPort(3004), server: makeServer(apiUrl) }).pipe(
    Layer.provide(Layer.mergeAll(CredentialBackend.layerFromMode({ prefix: "NOTES_" }), Downstream.layer, Example.logToStderr))
  )

/** Builds the server with MCP_CREDENTIAL_MODE set to `mode`, runs `session`, stops the server. */
const withMode = (apiUrl: string, mode: string, session: (url: URL) => Promise<void>) =>
  Effect.scoped(Effect.gen(function*() {
    Example.section(`MCP_CREDENTIAL_MODE=${mode}`)
    process.env.MCP_CREDENTIAL_MODE = mode
    const url = yield* Effect.either(Example.serveHttp(serverLayer(apiUrl)))
    if (url._tag === "Left") {
      console.log(`   server not started: ${url.left.message}`)
      return
    }
    yield* Effect.promise(() => session(url.right))
  }))

const main = Effect.gen(function*() {
  const api = yield* FakeApi.make({
    name: "notes-api",
    accept: { [demo.serverKey]: "server-account", [demo.hostedUserKey]: "hosted-user-42" },
    respond: ({ user }) => ({ items: [`${user}: buy milk`, `${user}: ship v1`] })
  })

  if (Example.isServe) {
    const url = yield* Example.serveHttp(serverLayer(api.url))
    return yield* Example.keepServing([
      `mode-switch example, mode ${process.env.MCP_CREDENTIAL_MODE ?? "oss (default)"} (fake Notes API on ${api.url})`,
      ...Example.connectHelp(url)
    ])
  }

  console.log(`mode-switch: fake Notes API ${api.url}`)
  yield* withMode(api.url, "oss", async (url) => {
    const client = await Example.connect(url)
    await Example.call(client, "list_notes")
    Example.note("oss: the server's own key, from NOTES_FIELD_apiKey")
    await client.close()
  })
  yield* withMode(api.url, "hosted", async (url) => {
    const anonymous = await Example.connect(url)
    await Example.call(anonymous, "list_notes")
    Example.note("hosted: environment variables are not used; the request must carry the credential")
    const user = await Example.connect(url, { headers: { "X-MCP-Cred-Fields": JSON.stringify({ apiKey: demo.hostedUserKey }) } })
    await Example.call(user, "list_notes")
    for (const client of [anonymous, user]) await client.close()
  })
  yield* withMode(api.url, "banana", async () => {})
})

Example.run(main)
