/**
 * Quick start on the v2 SDK (`@modelcontextprotocol/server` 2.x, protocol 2026-07-28): the same
 * tools as `examples/quickstart`, the same tool code — only the import of the integration
 * (`McpCredentialsV2`, `McpHttpServerV2`) and the server construction (a server per request)
 * differ.
 *
 *   npm run example:quickstart-v2            scripted session: a 2026-07-28 client and a 2025-era
 *                                            client call the tools, then it exits
 *   node examples/dist/quickstart-v2/server.js --serve   keeps serving on 127.0.0.1:3000 (PORT=...)
 *
 * The key below is a DEMO VALUE, used when WEATHER_FIELD_apiKey is not set. The fake Weather API
 * runs in this process on a random port and accepts only that key.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { type CredentialBackend, CurrentCredential, EnvCredentialBackend } from "@mcp-credentials/core"
import { McpCredentialsV2, McpHttpServerV2, ToolError } from "@mcp-credentials/server"
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client"
import { McpServer } from "@modelcontextprotocol/server"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Runtime from "effect/Runtime"
import { z } from "zod"
import * as Downstream from "../shared/downstream.js"
import * as Example from "../shared/example.js"
import * as FakeApi from "../shared/fakeApi.js"

/** DEMO VALUE ONLY: the key the fake Weather API accepts. */
const demoApiKey = "sk-demo-quickstart-3e8b51c0"
Example.demoDefault("WEATHER_FIELD_apiKey", demoApiKey)

type Services = CredentialBackend.CredentialBackend | HttpClient.HttpClient

/** The application layer: credentials from WEATHER_* environment variables, an HTTP client, logs on stderr. */
const AppLayer = Layer.mergeAll(EnvCredentialBackend.layer({ prefix: "WEATHER_" }), Downstream.layer, Example.logToStderr)

/** Called once per request (2026-07-28 is stateless); the runtime is shared by every request. */
const makeServer = (apiUrl: string) => (runtime: Runtime.Runtime<Services>) => {
  const server = new McpServer({ name: "mcp-credentials-quickstart-v2", version: "0.1.0" })
  const tools = McpCredentialsV2.install(server, { runtime })

  // from here on, the tool code is the v1 quick start's, character for character
  tools.registerTool(
    "get_forecast",
    {
      description: "Two-day weather forecast for a city.",
      inputSchema: { city: z.string().describe("City name, e.g. Lisbon") },
      credentials: "static" // resolved for this call only, from WEATHER_FIELD_apiKey
    },
    ({ city }) =>
      Effect.gen(function*() {
        const { fields } = yield* CurrentCredential.getStatic()
        if (fields.apiKey === undefined) return yield* new ToolError.ToolError({ message: "Set WEATHER_FIELD_apiKey." })
        const reply = yield* Downstream.get(`${apiUrl}/forecast?city=${encodeURIComponent(city)}`, { apiKey: fields.apiKey })
        const body = yield* Downstream.ok(reply)
        return { city, forecast: body.items }
      })
  )

  tools.registerTool(
    "debug_echo_key",
    { description: "Deliberately leaky: tries to return the API key. The server scrubs it.", credentials: "static" },
    () =>
      Effect.map(CurrentCredential.getStatic(), ({ fields }) =>
        `The API key is ${fields.apiKey === undefined ? "(none)" : Redacted.value(fields.apiKey)}`)
  )

  tools.registerTool(
    "roll_dice",
    { description: "Rolls dice. Needs no credential.", inputSchema: { sides: z.number().int().min(2).default(6) } },
    ({ sides }) => `You rolled ${1 + Math.floor(Math.random() * sides)} (d${sides}).`
  )
  return server
}

/** Calls a tool with a v2 client and prints the exchange. */
const callV2 = async (client: Client, name: string, args?: Record<string, unknown>) => {
  console.log(`-> ${name}${args !== undefined ? ` ${JSON.stringify(args)}` : ""}`)
  const result = await client.callTool({ name, ...(args !== undefined ? { arguments: args } : {}) })
  const text = Example.textOf(result)
  console.log(`   <- ${result.isError === true ? "ERROR " : ""}${text}`)
  return text
}

const main = Effect.gen(function*() {
  const api = yield* FakeApi.make({
    name: "weather-api",
    accept: { [demoApiKey]: "quickstart-user" },
    respond: ({ query }) => ({
      items: [
        { day: "today", city: query.get("city"), summary: "sunny", highC: 24 },
        { day: "tomorrow", city: query.get("city"), summary: "showers", highC: 18 }
      ]
    })
  })
  const url = yield* Example.serveHttp(
    McpHttpServerV2.layer({ port: Example.listenPort(3000), host: "127.0.0.1", server: makeServer(api.url) }).pipe(
      Layer.provide(AppLayer)
    )
  )
  if (Example.isServe) {
    return yield* Example.keepServing([
      "mcp-credentials quick start (v2 SDK, protocol 2026-07-28; 2025-era clients are served too)",
      "",
      ...Example.connectHelp(url),
      "",
      "Tools: get_forecast (uses the API key), debug_echo_key (tries to leak it: scrubbed), roll_dice (no credential).",
      `The API key comes from WEATHER_FIELD_apiKey (a demo key by default); the fake Weather API is on ${api.url}.`
    ])
  }
  yield* Effect.promise(async () => {
    Example.section("a 2026-07-28 client (@modelcontextprotocol/client, pinned)")
    const client = new Client({ name: "quickstart-v2-client", version: "0.1.0" }, { versionNegotiation: { mode: { pin: "2026-07-28" } } })
    await client.connect(new StreamableHTTPClientTransport(url))
    console.log(`   protocol era: ${client.getProtocolEra()}`)
    const { tools } = await client.listTools()
    console.log(`-> tools/list\n   <- ${tools.map((t) => t.name).join(", ")}`)
    await callV2(client, "get_forecast", { city: "Lisbon" })
    await callV2(client, "debug_echo_key")
    Example.note("the tool returned the key; the server scrubbed it before the result left")
    await callV2(client, "roll_dice", { sides: 20 })
    await client.close()

    Example.section("a 2025-era client (@modelcontextprotocol/sdk), served by the same endpoint")
    const legacy = await Example.connect(url)
    await Example.call(legacy, "get_forecast", { city: "Oslo" })
    await Example.call(legacy, "debug_echo_key")
    await legacy.close()
  })
})

Example.run(main)
