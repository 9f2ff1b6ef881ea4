/**
 * oauth-env: an OAuth access token from environment variables.
 *
 * Shows: `EnvCredentialBackend.layer({ prefix: "CALENDAR_" })` builds an `OAuthCredential` from
 * `CALENDAR_ACCESS_TOKEN`, `CALENDAR_SCOPES` (space separated), `CALENDAR_EXPIRES_AT` (ISO-8601) and
 * `CALENDAR_EXTRA_*` (non-secret metadata). The tool checks `ResolvedCredential.isExpired` (60 s
 * safety margin, driven by Effect's `Clock`) and the granted scopes before it calls the downstream
 * API with `Authorization: Bearer <token>`. The variables are read on every call: the session
 * moves the expiry into the margin, then swaps in a revoked token whose 401 echoes the
 * `Authorization` header; the client sees `[redacted]`.
 *
 * Run:  npm run example:oauth-env
 *       node examples/dist/oauth-env/main.js --serve      (keeps serving; PORT=3002 to pick the port)
 * Your own token: CALENDAR_ACCESS_TOKEN=... CALENDAR_SCOPES="calendar.read" CALENDAR_EXPIRES_AT=2030-01-01T00:00:00Z
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { type CredentialBackend, CurrentCredential, EnvCredentialBackend, ResolvedCredential } from "@mcp-credentials/core"
import { McpCredentials, McpHttpServer, ToolError } from "@mcp-credentials/server"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Runtime from "effect/Runtime"
import * as Downstream from "../shared/downstream.js"
import * as Example from "../shared/example.js"
import * as FakeApi from "../shared/fakeApi.js"

const prefix = "CALENDAR_"
/** DEMO VALUE ONLY: the token the fake Calendar API accepts. */
const demoAccessToken = "ya29.demo-calendar-token-6c2f0b9d"
/** DEMO VALUE ONLY: a token the fake Calendar API has revoked. */
const demoRevokedToken = "ya29.demo-calendar-revoked-1e7a"

Example.demoDefault(`${prefix}ACCESS_TOKEN`, demoAccessToken)
Example.demoDefault(`${prefix}SCOPES`, "calendar.read calendar.events")
Example.demoDefault(`${prefix}EXPIRES_AT`, new Date(Date.now() + 3600_000).toISOString())
Example.demoDefault(`${prefix}EXTRA_CALENDAR_ID`, "primary")

type Services = CredentialBackend.CredentialBackend | HttpClient.HttpClient

const AppLayer = Layer.mergeAll(EnvCredentialBackend.layer({ prefix }), Downstream.layer, Example.logToStderr)

/** What a tool may say about a token: everything but the secrets. */
const describeToken = (token: ResolvedCredential.OAuthCredential) =>
  Effect.map(ResolvedCredential.isExpired(token), (expired) => ({
    scopes: token.scopes ?? [],
    expiresAt: token.expiresAt === undefined ? null : DateTime.formatIso(token.expiresAt),
    isExpired: expired,
    hasRefreshToken: token.refreshToken !== undefined,
    extra: token.extra
  }))

const makeServer = (apiUrl: string) => (runtime: Runtime.Runtime<Services>) => {
  const server = new McpServer({ name: "oauth-env-example", version: "0.1.0" })
  const tools = McpCredentials.install(server, { runtime })

  tools.registerTool(
    "token_info",
    { description: "Scopes and expiry of the server's Calendar token (never the token itself).", credentials: "oauth" },
    () => Effect.flatMap(CurrentCredential.getOAuth(), describeToken)
  )

  tools.registerTool(
    "list_events",
    { description: "Upcoming events from the Calendar API (Bearer token).", credentials: "oauth" },
    () =>
      Effect.gen(function*() {
        const token = yield* CurrentCredential.getOAuth()
        const info = yield* describeToken(token)
        if (info.isExpired) {
          return yield* new ToolError.ToolError({
            message: `The Calendar token expired (or expires within 60 s) at ${info.expiresAt}. Refresh it and set ${prefix}ACCESS_TOKEN.`
          })
        }
        if (!info.scopes.includes("calendar.read")) {
          return yield* new ToolError.ToolError({ message: "The Calendar token lacks the calendar.read scope." })
        }
        const calendar = String(token.extra.calendar_id ?? "primary")
        const reply = yield* Downstream.get(`${apiUrl}/calendars/${calendar}/events`, { bearer: token.accessToken })
        const body = yield* Downstream.ok(reply)
        return { calendar, account: body.user, isExpired: info.isExpired, events: body.items }
      })
  )
  return server
}

const main = Effect.gen(function*() {
  const api = yield* FakeApi.make({
    name: "calendar-api",
    accept: { [demoAccessToken]: "ada@example.com" },
    respond: () => ({
      items: [
        { title: "Stand-up", start: "09:30" },
        { title: "Design review", start: "14:00" }
      ]
    })
  })
  const url = yield* Example.serveHttp(
    McpHttpServer.layer({ port: Example.listenPort(3002), server: makeServer(api.url) }).pipe(Layer.provide(AppLayer))
  )
  if (Example.isServe) {
    return yield* Example.keepServing([`oauth-env example (fake Calendar API on ${api.url})`, ...Example.connectHelp(url)])
  }

  console.log(`oauth-env: MCP server ${url.href}, fake Calendar API ${api.url}`)
  yield* Effect.promise(async () => {
    const client = await Example.connect(url)
    await Example.listTools(client)
    await Example.call(client, "token_info")
    await Example.call(client, "list_events")

    Example.section(`${prefix}EXPIRES_AT moves to 30 s from now: inside the 60 s margin, so isExpired is true`)
    const expiresAt = process.env[`${prefix}EXPIRES_AT`]
    process.env[`${prefix}EXPIRES_AT`] = new Date(Date.now() + 30_000).toISOString()
    await Example.call(client, "token_info")
    await Example.call(client, "list_events")
    if (expiresAt !== undefined) process.env[`${prefix}EXPIRES_AT`] = expiresAt

    Example.section(`${prefix}ACCESS_TOKEN is replaced by a revoked token`)
    const token = process.env[`${prefix}ACCESS_TOKEN`]
    process.env[`${prefix}ACCESS_TOKEN`] = demoRevokedToken
    await Example.call(client, "list_events")
    Example.note("the API echoed the Authorization header; the token was scrubbed before the client saw it")
    if (token !== undefined) process.env[`${prefix}ACCESS_TOKEN`] = token
    await client.close()
  })
})

Example.run(main)
