/**
 * demo: the whole library in one run, with a leak audit at the end.
 *
 * Starts four MCP servers in this process, one per backend:
 *   1. Env backend, a static API key;
 *   2. Env backend, an OAuth token (with refresh token and client secret);
 *   3. Header backend behind a gateway that signs the credential headers (`gatewaySecret`);
 *   4. named credentials, github (OAuth) + jira (static), via `CredentialBackend.layerNamed`.
 * A real MCP `Client` connects to each over Streamable HTTP and calls tools: honest ones that call
 * a fake downstream API, deliberately leaky ones that return their secret (plain, JSON, base64,
 * base64url, Basic auth, URL-encoded), one whose downstream 401 echoes the `Authorization` header,
 * calls with malformed, nested and unsigned credential headers, and a tool that was not given a
 * credential it did not declare.
 *
 * Every JSON-RPC message in both directions is recorded (the client transport is wrapped), and every
 * log line: the servers' Effect logger is replaced by one that captures its lines, and
 * console.log/error/warn are wrapped during the run (so the transcript is audited too). At the end
 * every secret value used (plain, JSON-escaped, base64, base64url, URL/form-encoded; nested JSON is
 * decoded) is searched in all of it, and the demo prints
 *   leak audit: N messages, M log lines, 0 secret occurrences
 * and exits 0, or exits 1 with the real count.
 *
 * Runs offline (loopback only), needs no Redis or Postgres, and exits on its own in a few seconds.
 *
 * Run:  npm run demo
 *       node examples/dist/demo/main.js --known-leaks   (adds two leaks the scrubber misses today,
 *                                                        to see the audit fail: exit 1)
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import {
  CredentialBackend,
  CurrentCredential,
  EnvCredentialBackend,
  HeaderCredentialBackend,
  ResolvedCredential
} from "@mcp-credentials/core"
import { McpCredentials, McpHttpServer, ToolContext, ToolError } from "@mcp-credentials/server"
import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js"
import * as ConfigProvider from "effect/ConfigProvider"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import type * as Runtime from "effect/Runtime"
import { format } from "node:util"
import * as Downstream from "../shared/downstream.js"
import * as Example from "../shared/example.js"
import * as FakeApi from "../shared/fakeApi.js"

const knownLeaks = process.argv.includes("--known-leaks")

/**
 * DEMO VALUES ONLY. Every secret the demo uses; the audit searches for each of them. Some contain
 * characters that every encoding changes (`+ / " space ~`), so each form differs from the plain one.
 */
const secrets = {
  staticKey: "sk-demo+static/7f3a 9c2e\"41",
  billingKey: "sk-demo-billing-only-4d1e",
  oauthAccessToken: "ya29.demo-access/token+5d8e2b",
  oauthRefreshToken: "1//demo-refresh-token-c4f1a9",
  oauthClientSecret: "demo-client~secret.9b2e7f",
  gatewaySecret: "demo-gateway-secret-0a6f3c",
  aliceKey: "sk-demo-alice-31c9e0",
  bobKey: "sk-demo-bob-84d2f7",
  malformedKey: "sk-demo-malformed-5e1b90",
  nestedKey: "sk-demo-nested-2c7a44",
  githubToken: "gho_demo_4a1f9e2c77b3",
  jiraToken: "jira-demo-token-6b3d8f10"
} as const

// -- capture ---------------------------------------------------------------------------------------

/** Every JSON-RPC message, both directions. */
const messages: Array<string> = []
/** Every log line: the servers' Effect logs and everything written with console.log/error/warn. */
const logLines: Array<string> = []

const original = { log: console.log, error: console.error, warn: console.warn }
const captureConsole = () => {
  for (const method of ["log", "error", "warn"] as const) {
    console[method] = (...args: Array<unknown>) => {
      logLines.push(format(...args))
      original[method](...args)
    }
  }
}
const releaseConsole = () => Object.assign(console, original)

/** The servers' logger: captures each line, and shows it (without timestamp and fiber) in the transcript. */
const CaptureLogger = Logger.replace(
  Logger.defaultLogger,
  Logger.make((options) => {
    const line = Logger.logfmtLogger.log(options)
    logLines.push(line)
    original.log(`      | server log: ${line.replace(/^timestamp=\S+ /, "").replace(/ fiber=#\d+/, "")}`)
  })
)

// -- downstream APIs ---------------------------------------------------------------------------------

interface Apis {
  readonly weather: string
  readonly billing: string
  readonly calendar: string
  readonly github: string
  readonly jira: string
}

const startApis = Effect.gen(function*() {
  const log = (line: string) => console.log(`      | downstream: ${line}`)
  const weather = yield* FakeApi.make({
    name: "weather-api",
    log,
    accept: { [secrets.staticKey]: "env-static-user", [secrets.aliceKey]: "alice", [secrets.bobKey]: "bob" },
    respond: () => ({ items: [{ city: "Lisbon", summary: "sunny" }] })
  })
  const billing = yield* FakeApi.make({ name: "billing-api", log, accept: { [secrets.billingKey]: "billing" } })
  const calendar = yield* FakeApi.make({
    name: "calendar-api",
    log,
    accept: { [secrets.oauthAccessToken]: "ada@example.com" },
    respond: () => ({ items: [{ title: "Stand-up", start: "09:30" }] })
  })
  const github = yield* FakeApi.make({ name: "github-api", log, accept: { [secrets.githubToken]: "octo-dev" } })
  const jira = yield* FakeApi.make({ name: "jira-api", log, accept: { [secrets.jiraToken]: "dev@acme" } })
  return { weather: weather.url, billing: billing.url, calendar: calendar.url, github: github.url, jira: jira.url }
})

// -- tools shared by several servers ---------------------------------------------------------------

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64")
const b64url = (s: string) => Buffer.from(s, "utf8").toString("base64url")

/** What a careless tool might return: the secret in every common encoding. */
const leakForms = (label: string, secret: string): string =>
  [
    `${label} plain: ${secret}`,
    `${label} in JSON: ${JSON.stringify({ apiKey: secret })}`,
    `${label} base64: ${b64(secret)}`,
    `${label} base64url: ${b64url(secret)}`,
    `${label} Basic auth: Basic ${b64(`demo-user:${secret}`)}`,
    `${label} in a URL: https://api.example.com/v1/items?key=${encodeURIComponent(secret)}`,
    `${label} as a header: Authorization: Bearer ${secret}`
  ].join("\n")

type Services = CredentialBackend.CredentialBackend | HttpClient.HttpClient

const staticKey = Effect.flatMap(CurrentCredential.getStatic(), ({ fields }) =>
  fields.apiKey === undefined
    ? new ToolError.ToolError({ message: "The credential has no apiKey field." })
    : Effect.succeed(fields.apiKey))

const registerWhoami = (tools: McpCredentials.Installed<Services>, apis: Apis) =>
  tools.registerTool(
    "whoami",
    { description: "The account behind the API key (calls the Weather API).", credentials: "static" },
    () =>
      Effect.gen(function*() {
        const apiKey = yield* staticKey
        const body = yield* Effect.flatMap(Downstream.get(`${apis.weather}/me`, { apiKey }), Downstream.ok)
        return `account: ${String(body.user)}`
      })
  )

const registerLeakyEcho = (tools: McpCredentials.Installed<Services>) =>
  tools.registerTool(
    "leaky_echo",
    { description: "Deliberately leaky: returns its API key in many encodings.", credentials: "static" },
    () => Effect.map(staticKey, (key) => leakForms("key", Redacted.value(key)))
  )

// -- the four servers ------------------------------------------------------------------------------

const envConfig = (entries: ReadonlyArray<readonly [string, string]>) =>
  Layer.setConfigProvider(ConfigProvider.fromMap(new Map(entries)))

const appLayer = <A, E>(backend: Layer.Layer<A, E>) => Layer.mergeAll(backend, Downstream.layer, CaptureLogger)

const serve = <A, E>(server: (runtime: Runtime.Runtime<A | HttpClient.HttpClient>) => McpServer, backend: Layer.Layer<A, E>) =>
  Example.serveHttp(McpHttpServer.layer({ port: 0, server }).pipe(Layer.provide(appLayer(backend))))

/** 1. Env backend, static key. */
const envStaticServer = (apis: Apis) => (runtime: Runtime.Runtime<Services>) => {
  const server = new McpServer({ name: "demo-env-static", version: "0.1.0" })
  const tools = McpCredentials.install(server, { runtime })
  registerWhoami(tools, apis)
  registerLeakyEcho(tools)
  tools.registerTool(
    "billing_status",
    { description: "Calls the Billing API, which does not accept this key (401 echoes the header).", credentials: "static" },
    () =>
      Effect.gen(function*() {
        const key = yield* staticKey
        const body = yield* Effect.flatMap(Downstream.get(`${apis.billing}/status`, { bearer: key }), Downstream.ok)
        return body
      })
  )
  tools.registerTool("server_time", { description: "Needs no credential." }, () => ({ now: "12:00 UTC" }))
  if (knownLeaks) {
    tools.registerTool(
      "known_leak_nested_json",
      { description: "Returns an object holding a JSON string with the key.", credentials: "static" },
      () => Effect.map(staticKey, (key) => ({ config: JSON.stringify({ apiKey: Redacted.value(key) }) }))
    )
  }
  return server
}

/** 2. Env backend, OAuth token. */
const envOAuthServer = (apis: Apis) => (runtime: Runtime.Runtime<Services>) => {
  const server = new McpServer({ name: "demo-env-oauth", version: "0.1.0" })
  const tools = McpCredentials.install(server, { runtime })
  tools.registerTool(
    "list_events",
    { description: "Calendar events (Bearer token).", credentials: "oauth" },
    () =>
      Effect.gen(function*() {
        const token = yield* CurrentCredential.getOAuth()
        if (yield* ResolvedCredential.isExpired(token)) return yield* new ToolError.ToolError({ message: "Token expired." })
        const body = yield* Effect.flatMap(Downstream.get(`${apis.calendar}/events`, { bearer: token.accessToken }), Downstream.ok)
        return { account: body.user, events: body.items }
      })
  )
  tools.registerTool(
    "token_info",
    { description: "Scopes and expiry of the token, never the token.", credentials: "oauth" },
    () =>
      Effect.gen(function*() {
        const token = yield* CurrentCredential.getOAuth()
        return {
          scopes: token.scopes ?? [],
          expiresAt: token.expiresAt === undefined ? null : DateTime.formatIso(token.expiresAt),
          isExpired: yield* ResolvedCredential.isExpired(token),
          hasRefreshToken: token.refreshToken !== undefined,
          clientId: token.clientId ?? null,
          extra: token.extra
        }
      })
  )
  tools.registerTool(
    "leaky_refresh_request",
    { description: "Deliberately leaky: returns the token refresh request it would send.", credentials: "oauth" },
    () =>
      Effect.gen(function*() {
        const token = yield* CurrentCredential.getOAuth()
        const refresh = token.refreshToken === undefined ? "" : Redacted.value(token.refreshToken)
        const clientSecret = token.clientSecret === undefined ? "" : Redacted.value(token.clientSecret)
        return [
          `POST ${token.tokenUri ?? "(no token uri)"}`,
          `Authorization: Basic ${b64(`${token.clientId ?? ""}:${clientSecret}`)}`,
          `grant_type=refresh_token&refresh_token=${encodeURIComponent(refresh)}&client_secret=${encodeURIComponent(clientSecret)}`,
          `(current access token: ${Redacted.value(token.accessToken)})`
        ].join("\n")
      })
  )
  if (knownLeaks) {
    tools.registerTool(
      "known_leak_form_encoded",
      { description: "Returns a refresh body encoded with URLSearchParams.", credentials: "oauth" },
      () =>
        Effect.map(CurrentCredential.getOAuth(), (token) =>
          new URLSearchParams({
            grant_type: "refresh_token",
            client_secret: token.clientSecret === undefined ? "" : Redacted.value(token.clientSecret)
          }).toString())
    )
  }
  return server
}

/** 3. Header backend behind a signing gateway. */
const headerServer = (apis: Apis) => (runtime: Runtime.Runtime<Services>) => {
  const server = new McpServer({ name: "demo-header-gateway", version: "0.1.0" })
  const tools = McpCredentials.install(server, { runtime })
  registerWhoami(tools, apis)
  registerLeakyEcho(tools)
  tools.registerTool(
    "visible_headers",
    { description: "The request headers a tool can see. Needs no credential." },
    () => Effect.map(ToolContext.ToolContext, (ctx) => Object.keys(ctx.headers).sort().join(", "))
  )
  return server
}

/** 4. Named credentials: github (OAuth) + jira (static). */
type NamedServices = CredentialBackend.Named<"github"> | CredentialBackend.Named<"jira"> | HttpClient.HttpClient
const namedServer = (apis: Apis) => (runtime: Runtime.Runtime<NamedServices>) => {
  const server = new McpServer({ name: "demo-named", version: "0.1.0" })
  const tools = McpCredentials.install(server, { runtime })
  const jiraToken = Effect.flatMap(CurrentCredential.getStatic("jira"), ({ fields }) =>
    fields.apiToken === undefined
      ? new ToolError.ToolError({ message: "The jira credential has no apiToken." })
      : Effect.succeed(fields.apiToken))
  tools.registerTool(
    "link_issue",
    { description: "Uses both accounts.", credentials: { github: "oauth", jira: "static" } },
    () =>
      Effect.gen(function*() {
        const github = yield* CurrentCredential.getOAuth("github")
        const [gh, jr] = yield* Effect.all([
          Effect.flatMap(Downstream.get(`${apis.github}/user`, { bearer: github.accessToken }), Downstream.ok),
          Effect.flatMap(jiraToken, (apiKey) => Effect.flatMap(Downstream.get(`${apis.jira}/myself`, { apiKey }), Downstream.ok))
        ], { concurrency: "unbounded" })
        return `linked APP-42 to acme/app#17 as github:${String(gh.user)} and jira:${String(jr.user)}`
      })
  )
  tools.registerTool(
    "leaky_both",
    { description: "Deliberately leaky: returns both tokens.", credentials: { github: "oauth", jira: "static" } },
    () =>
      Effect.gen(function*() {
        const github = yield* CurrentCredential.getOAuth("github")
        const jira = yield* jiraToken
        return `${leakForms("github", Redacted.value(github.accessToken))}\n${leakForms("jira", Redacted.value(jira))}`
      })
  )
  tools.registerTool(
    "github_only",
    { description: "Declares only github; looks for jira.", credentials: { github: "oauth" } },
    () =>
      Effect.map(Effect.either(CurrentCredential.get("jira")), (jira) =>
        jira._tag === "Right" ? "jira is in scope (unexpected)" : `jira is not in scope: ${jira.left.message.split(".")[0]}.`)
  )
  return server
}

// -- the gateway (client side) ---------------------------------------------------------------------

const gatewayFetch = (credentialHeaders: Record<string, string>): FetchLike => (url, init) => {
  const headers = new Headers(init?.headers)
  for (const [name, value] of Object.entries(credentialHeaders)) headers.set(name, value)
  const proof = HeaderCredentialBackend.signGatewayHeaders(credentialHeaders, Redacted.make(secrets.gatewaySecret))
  for (const [name, value] of Object.entries(proof)) headers.set(name, value)
  return fetch(url, { ...init, headers })
}
const fields = (raw: string) => ({ "X-MCP-Cred-Fields": raw })

// -- the audit -------------------------------------------------------------------------------------

/**
 * The forms the audit searches: plain, JSON-escaped (once to three times: JSON inside JSON), URL- and
 * form-encoded, base64 and base64url at any alignment.
 */
const auditForms = (secret: string): ReadonlyArray<string> => {
  const out = new Set<string>([secret, encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2)])
  let escaped = secret
  for (let i = 0; i < 3; i++) {
    escaped = JSON.stringify(escaped).slice(1, -1)
    out.add(escaped)
  }
  const bytes = Buffer.from(secret, "utf8")
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString("base64")
    const core = encoded.slice(Math.ceil((shift * 8) / 6), Math.floor(((shift + bytes.length) * 8) / 6))
    out.add(core)
    out.add(core.replace(/\+/g, "-").replace(/\//g, "_"))
  }
  return Array.from(out).filter((f) => f.length >= 8)
}

/** A record and, when it is JSON, every string inside it, decoded again when it is JSON itself. */
const textsOf = (record: string): ReadonlyArray<string> => {
  const out = [record]
  const walk = (u: unknown, depth: number): void => {
    if (depth > 6) return
    if (typeof u === "string") {
      out.push(u)
      const t = u.trim()
      if (t.startsWith("{") || t.startsWith("[") || t.startsWith("\"")) {
        try {
          walk(JSON.parse(t), depth + 1)
        } catch {
          // not JSON
        }
      }
    } else if (Array.isArray(u)) {
      for (const x of u) walk(x, depth + 1)
    } else if (u !== null && typeof u === "object") {
      for (const [k, v] of Object.entries(u)) {
        walk(k, depth + 1)
        walk(v, depth + 1)
      }
    }
  }
  try {
    walk(JSON.parse(record), 0)
  } catch {
    // a plain log line
  }
  return out
}

const countIn = (text: string, form: string) => text.split(form).length - 1

const audit = (): { readonly occurrences: number; readonly findings: ReadonlyArray<string> } => {
  let occurrences = 0
  const findings: Array<string> = []
  const records = [
    ...messages.map((text, i) => ({ where: `message #${i + 1}`, text })),
    ...logLines.map((text, i) => ({ where: `log line #${i + 1}`, text }))
  ]
  const forms = Object.entries(secrets).map(([label, secret]) => ({ label, forms: auditForms(secret) }))
  for (const record of records) {
    const texts = textsOf(record.text)
    for (const { forms: fs, label } of forms) {
      // an occurrence seen at several decoding depths counts once
      const n = Math.max(...texts.map((t) => fs.reduce((sum, f) => sum + countIn(t, f), 0)))
      if (n > 0) {
        occurrences += n
        findings.push(`  ${label}: ${n} in ${record.where}`)
      }
    }
  }
  return { occurrences, findings }
}

// -- main ------------------------------------------------------------------------------------------

const main = Effect.gen(function*() {
  captureConsole()
  const apis = yield* startApis

  // 1. env, static
  Example.section("1. Env backend, static API key (DEMO_STATIC_FIELD_apiKey)")
  const envStaticUrl = yield* serve(
    envStaticServer(apis),
    EnvCredentialBackend.layer({ prefix: "DEMO_STATIC_" }).pipe(
      Layer.provide(envConfig([["DEMO_STATIC_FIELD_apiKey", secrets.staticKey]]))
    )
  )
  yield* Effect.promise(async () => {
    const client = await Example.connect(envStaticUrl, { record: messages, name: "demo-client" })
    await Example.listTools(client)
    await Example.call(client, "whoami")
    await Example.call(client, "leaky_echo")
    await Example.call(client, "billing_status")
    await Example.call(client, "server_time")
    if (knownLeaks) await Example.call(client, "known_leak_nested_json")
    await client.close()
  })

  // 2. env, oauth
  Example.section("2. Env backend, OAuth token (DEMO_OAUTH_*)")
  const envOAuthUrl = yield* serve(
    envOAuthServer(apis),
    EnvCredentialBackend.layer({ prefix: "DEMO_OAUTH_" }).pipe(
      Layer.provide(envConfig([
        ["DEMO_OAUTH_ACCESS_TOKEN", secrets.oauthAccessToken],
        ["DEMO_OAUTH_REFRESH_TOKEN", secrets.oauthRefreshToken],
        ["DEMO_OAUTH_CLIENT_ID", "demo-client-id"],
        ["DEMO_OAUTH_CLIENT_SECRET", secrets.oauthClientSecret],
        ["DEMO_OAUTH_TOKEN_URI", "https://auth.example.com/token"],
        ["DEMO_OAUTH_SCOPES", "calendar.read calendar.events"],
        ["DEMO_OAUTH_EXPIRES_AT", new Date(Date.now() + 3600_000).toISOString()],
        ["DEMO_OAUTH_EXTRA_TENANT", "acme"]
      ]))
    )
  )
  yield* Effect.promise(async () => {
    const client = await Example.connect(envOAuthUrl, { record: messages, name: "demo-client" })
    await Example.listTools(client)
    await Example.call(client, "list_events")
    await Example.call(client, "token_info")
    await Example.call(client, "leaky_refresh_request")
    if (knownLeaks) await Example.call(client, "known_leak_form_encoded")
    await client.close()
  })

  // 3. header + gateway
  Example.section("3. Header backend behind a signing gateway (gatewaySecret)")
  const headerUrl = yield* serve(
    headerServer(apis),
    HeaderCredentialBackend.layer({ gatewaySecret: Redacted.make(secrets.gatewaySecret) })
  )
  yield* Effect.promise(async () => {
    const connect = (options: Parameters<typeof Example.connect>[1]) =>
      Example.connect(headerUrl, { record: messages, name: "demo-client", ...options })
    const opened: Array<Client> = []
    const as = async (title: string, options: Parameters<typeof Example.connect>[1], tools: ReadonlyArray<string>) => {
      console.log(`-- ${title}`)
      const client = await connect(options)
      opened.push(client)
      for (const tool of tools) await Example.call(client, tool)
    }
    await as("alice through the gateway", { fetch: gatewayFetch(fields(JSON.stringify({ apiKey: secrets.aliceKey }))) }, [
      "whoami",
      "visible_headers"
    ])
    await as("bob through the gateway", { fetch: gatewayFetch(fields(JSON.stringify({ apiKey: secrets.bobKey }))) }, [
      "whoami",
      "leaky_echo"
    ])
    await as("malformed X-MCP-Cred-Fields (invalid JSON holding a key), signed", {
      fetch: gatewayFetch(fields(`{"apiKey": "${secrets.malformedKey}"`))
    }, ["whoami"])
    await as("nested field value, signed", {
      fetch: gatewayFetch(fields(JSON.stringify({ apiKey: { value: secrets.nestedKey } })))
    }, ["whoami"])
    await as("credential header without the gateway's signature", {
      headers: fields(JSON.stringify({ apiKey: secrets.aliceKey }))
    }, ["whoami"])
    for (const client of opened) await client.close()
  })

  // 4. named
  Example.section("4. Named credentials: github (OAuth) + jira (static)")
  const namedUrl = yield* serve(
    namedServer(apis),
    Layer.mergeAll(
      CredentialBackend.layerNamed("github", EnvCredentialBackend.layer({ prefix: "GITHUB_" })),
      CredentialBackend.layerNamed("jira", EnvCredentialBackend.layer({ prefix: "JIRA_" }))
    ).pipe(Layer.provide(envConfig([
      ["GITHUB_ACCESS_TOKEN", secrets.githubToken],
      ["GITHUB_SCOPES", "repo"],
      ["JIRA_FIELDS", JSON.stringify({ apiToken: secrets.jiraToken })]
    ])))
  )
  yield* Effect.promise(async () => {
    const client = await Example.connect(namedUrl, { record: messages, name: "demo-client" })
    await Example.listTools(client)
    await Example.call(client, "link_issue")
    await Example.call(client, "leaky_both")
    await Example.call(client, "github_only")
    await client.close()
  })

  releaseConsole()
  const { findings, occurrences } = audit()
  console.log("")
  if (findings.length > 0) {
    console.log("secret occurrences found (labels only):")
    for (const f of findings) console.log(f)
  }
  console.log(`leak audit: ${messages.length} messages, ${logLines.length} log lines, ${occurrences} secret occurrences`)
  return occurrences === 0 ? 0 : 1
})

Example.run(main)
