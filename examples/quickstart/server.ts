/**
 * Quick start: an MCP server whose tool calls an API with a secret key that never reaches the model.
 *
 *   npm start            (builds, then serves on http://127.0.0.1:3000/mcp; PORT=... to change it)
 *
 * Then connect the MCP Inspector (`npx @modelcontextprotocol/inspector`, Transport Type
 * "Streamable HTTP", URL http://127.0.0.1:3000/mcp) and call the tools:
 *   - get_forecast     reads the API key (`WEATHER_FIELD_apiKey`) with the Env backend and calls a
 *                      (fake, local) Weather API with it;
 *   - debug_echo_key   a deliberately leaky tool that returns the key: the server scrubs it, the
 *                      client sees `[redacted]`;
 *   - roll_dice        needs no credential, so none is resolved.
 * The key below is a DEMO VALUE, used when WEATHER_FIELD_apiKey is not set. The fake Weather API
 * runs in this process on a random port and accepts only that key.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { type CredentialBackend, CurrentCredential, EnvCredentialBackend } from "@mcp-credentials/core"
import { McpCredentials, McpHttpServer, ToolError } from "@mcp-credentials/server"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
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

const makeServer = (apiUrl: string) => (runtime: Runtime.Runtime<Services>) => {
  const server = new McpServer({ name: "mcp-credentials-quickstart", version: "0.1.0" })
  const tools = McpCredentials.install(server, { runtime })

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
  const port = Number(process.env.PORT ?? 3000)
  const url = yield* Example.serveHttp(
    McpHttpServer.layer({ port, host: "127.0.0.1", server: makeServer(api.url) }).pipe(Layer.provide(AppLayer))
  )
  return yield* Example.keepServing([
    "mcp-credentials quick start",
    "",
    ...Example.connectHelp(url),
    "",
    "Tools: get_forecast (uses the API key), debug_echo_key (tries to leak it: scrubbed), roll_dice (no credential).",
    `The API key comes from WEATHER_FIELD_apiKey (a demo key by default); the fake Weather API is on ${api.url}.`
  ])
})

Example.run(main)
