/**
 * static-env (HTTP): a static API key from environment variables.
 *
 * Shows: `EnvCredentialBackend.layer({ prefix: "WEATHER_" })` reads `WEATHER_FIELD_apiKey` (or
 * `WEATHER_FIELDS='{"apiKey":"…"}'`) on every tool call; the tool gets it as a `Redacted` value and
 * sends it to the downstream API as `X-Api-Key`; the model never sees it. The variables are read
 * per call, so a rotated key is used without a restart, and a downstream 401 that echoes the key
 * back reaches the client as `[redacted]`.
 *
 * Run:  npm run example:static-env            (starts the server, runs a scripted MCP session, exits)
 *       node examples/dist/static-env/http.js --serve   (keeps serving; PORT=3001 to pick the port)
 * Your own key: WEATHER_FIELD_apiKey=... (the fake Weather API only accepts the demo key).
 * The stdio variant of the same server is stdio.ts (npm run example:static-env-stdio).
 */
import { McpHttpServer } from "@mcp-credentials/server"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Example from "../shared/example.js"
import * as FakeApi from "../shared/fakeApi.js"
import * as Weather from "./tools.js"

Example.demoDefault(`${Weather.prefix}FIELD_apiKey`, Weather.demoApiKey)

const main = Effect.gen(function*() {
  const api = yield* FakeApi.make(Weather.weatherApi)
  const url = yield* Example.serveHttp(
    McpHttpServer.layer<Weather.Services>({
      port: Example.listenPort(3001),
      server: (runtime) => Weather.makeServer(api.url, { runtime })
    }).pipe(Layer.provide(Layer.merge(Weather.layer, Example.logToStderr)))
  )
  if (Example.isServe) {
    return yield* Example.keepServing([`static-env example (fake Weather API on ${api.url})`, ...Example.connectHelp(url)])
  }

  console.log(`static-env over HTTP: MCP server ${url.href}, fake Weather API ${api.url}`)
  yield* Effect.promise(async () => {
    const client = await Example.connect(url)
    await Example.listTools(client)
    await Example.call(client, "list_cities")
    await Example.call(client, "get_forecast", { city: "Lisbon" })

    Example.section("the key is rotated to one the Weather API has revoked (read per call, no restart)")
    const previous = process.env.WEATHER_FIELD_apiKey
    process.env.WEATHER_FIELD_apiKey = Weather.demoRevokedKey
    await Example.call(client, "get_forecast", { city: "Oslo" })
    Example.note("the API echoed the X-Api-Key header it got; the server scrubbed the key from the error")
    if (previous !== undefined) process.env.WEATHER_FIELD_apiKey = previous
    await client.close()
  })
})

Example.run(main)
