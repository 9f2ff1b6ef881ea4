/**
 * The tools of the static-env example, shared by its HTTP (`http.ts`) and stdio (`stdio.ts`)
 * servers. Both read a static API key from environment variables with the Env backend.
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { type CredentialBackend, CurrentCredential, EnvCredentialBackend } from "@mcp-credentials/core"
import { McpCredentials, ToolError } from "@mcp-credentials/server"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { z } from "zod"
import * as Downstream from "../shared/downstream.js"
import * as FakeApi from "../shared/fakeApi.js"

/** The variable prefix: the key is `WEATHER_FIELD_apiKey` (or `WEATHER_FIELDS='{"apiKey":"…"}'`). */
export const prefix = "WEATHER_"

/** DEMO VALUE ONLY: the key the fake Weather API accepts, used when you set none. */
export const demoApiKey = "sk-demo-weather-4f1c9a7e2b"

/** DEMO VALUE ONLY: a key the fake Weather API has revoked (to show a 401 being scrubbed). */
export const demoRevokedKey = "sk-demo-weather-revoked-88d0"

/** What the tools need: the credential backend and an HTTP client. */
export type Services = CredentialBackend.CredentialBackend | HttpClient.HttpClient

/** The application layer: the Env backend reading `WEATHER_*` and the HTTP client. */
export const layer: Layer.Layer<Services> = Layer.merge(EnvCredentialBackend.layer({ prefix }), Downstream.layer)

/** Starts the fake Weather API that accepts the demo key. */
export const weatherApi: FakeApi.Options = {
  name: "weather-api",
  accept: { [demoApiKey]: "demo-user" },
  respond: ({ query }) => {
    const city = query.get("city") ?? "Lisbon"
    return {
      items: [
        { day: "today", city, summary: "sunny", highC: 24 },
        { day: "tomorrow", city, summary: "light rain", highC: 19 }
      ]
    }
  }
}

/** Registers the tools on an installed server. */
export const registerTools = (tools: McpCredentials.Installed<Services>, apiUrl: string): void => {
  tools.registerTool(
    "get_forecast",
    {
      description: "Two-day forecast for a city (calls the Weather API with the server's API key).",
      inputSchema: { city: z.string().describe("City name") },
      credentials: "static"
    },
    ({ city }) =>
      Effect.gen(function*() {
        const { fields } = yield* CurrentCredential.getStatic()
        const apiKey = fields.apiKey
        if (apiKey === undefined) {
          return yield* new ToolError.ToolError({ message: `Set ${prefix}FIELD_apiKey to your Weather API key.` })
        }
        const reply = yield* Downstream.get(`${apiUrl}/forecast?city=${encodeURIComponent(city)}`, { apiKey })
        const body = yield* Downstream.ok(reply)
        return { city, account: body.user, forecast: body.items }
      })
  )

  tools.registerTool(
    "list_cities",
    { description: "Cities with a forecast. Needs no credential." },
    () => ["Lisbon", "Oslo", "Nairobi"]
  )
}

/** A server with the tools, installed with the caller's runtime or layer. */
export const makeServer = (
  apiUrl: string,
  options: McpCredentials.Options<Services>
): McpServer => {
  const server = new McpServer({ name: "static-env-example", version: "0.1.0" })
  registerTools(McpCredentials.install(server, options), apiUrl)
  return server
}
