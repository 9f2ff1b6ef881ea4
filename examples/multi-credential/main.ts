/**
 * multi-credential: one server, two downstream services, each with its own named credential.
 *
 * Shows: `CredentialBackend.layerNamed("github", EnvCredentialBackend.layer({ prefix: "GITHUB_" }))`
 * (an OAuth token: `GITHUB_ACCESS_TOKEN`, `GITHUB_SCOPES`) beside
 * `layerNamed("jira", EnvCredentialBackend.layer({ prefix: "JIRA_" }))` (a static API token:
 * `JIRA_FIELDS='{"apiToken":"…"}'`). A tool declares what it uses, `{ github: "oauth", jira:
 * "static" }`, and reads each with `CurrentCredential.getOAuth("github")` / `getStatic("jira")`.
 * A tool gets only the credentials it declared; a name without a backend is an error; a tool that
 * declares nothing resolves nothing.
 *
 * Run:  npm run example:multi-credential
 *       node examples/dist/multi-credential/main.js --serve   (keeps serving; PORT=3005 to pick the port)
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { CredentialBackend, CurrentCredential, EnvCredentialBackend } from "@mcp-credentials/core"
import { McpCredentials, McpHttpServer, ToolError } from "@mcp-credentials/server"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Runtime from "effect/Runtime"
import { z } from "zod"
import * as Downstream from "../shared/downstream.js"
import * as Example from "../shared/example.js"
import * as FakeApi from "../shared/fakeApi.js"

/** DEMO VALUES ONLY. */
const demo = { githubToken: "gho_demo_5e3a7c9b1d2f", jiraToken: "jira-demo-token-8f61c2d0" }
Example.demoDefault("GITHUB_ACCESS_TOKEN", demo.githubToken)
Example.demoDefault("GITHUB_SCOPES", "repo read:org")
Example.demoDefault("JIRA_FIELDS", JSON.stringify({ apiToken: demo.jiraToken }))

type Services =
  | CredentialBackend.Named<"github">
  | CredentialBackend.Named<"jira">
  | HttpClient.HttpClient

const AppLayer = Layer.mergeAll(
  CredentialBackend.layerNamed("github", EnvCredentialBackend.layer({ prefix: "GITHUB_" })),
  CredentialBackend.layerNamed("jira", EnvCredentialBackend.layer({ prefix: "JIRA_" })),
  Downstream.layer,
  Example.logToStderr
)

const makeServer = (api: { readonly github: string; readonly jira: string }) => (runtime: Runtime.Runtime<Services>) => {
  const server = new McpServer({ name: "multi-credential-example", version: "0.1.0" })
  const tools = McpCredentials.install(server, { runtime })

  tools.registerTool(
    "link_issue_to_pr",
    {
      description: "Links a Jira issue to a GitHub pull request (uses both accounts).",
      inputSchema: { issue: z.string(), pr: z.number() },
      credentials: { github: "oauth", jira: "static" }
    },
    ({ issue, pr }) =>
      Effect.gen(function*() {
        const github = yield* CurrentCredential.getOAuth("github")
        const jira = yield* CurrentCredential.getStatic("jira")
        const apiToken = jira.fields.apiToken
        if (apiToken === undefined) return yield* new ToolError.ToolError({ message: "JIRA_FIELDS has no apiToken." })
        const [gh, jr] = yield* Effect.all([
          Effect.flatMap(Downstream.get(`${api.github}/repos/acme/app/pulls/${pr}`, { bearer: github.accessToken }), Downstream.ok),
          Effect.flatMap(Downstream.get(`${api.jira}/rest/api/3/issue/${issue}`, { apiKey: apiToken }), Downstream.ok)
        ], { concurrency: "unbounded" })
        return {
          linked: `${issue} <-> acme/app#${pr}`,
          githubAccount: gh.user,
          githubScopes: github.scopes ?? [],
          jiraAccount: jr.user,
          pullRequest: gh.pull,
          issue: jr.issue
        }
      })
  )

  tools.registerTool(
    "github_whoami",
    { description: "The GitHub account (declares only the github credential).", credentials: { github: "oauth" } },
    () =>
      Effect.gen(function*() {
        const github = yield* CurrentCredential.getOAuth("github")
        const body = yield* Effect.flatMap(Downstream.get(`${api.github}/user`, { bearer: github.accessToken }), Downstream.ok)
        // the jira credential was not declared, so it is not in this call's scope
        const jira = yield* Effect.either(CurrentCredential.get("jira"))
        return { githubAccount: body.user, jiraInScope: jira._tag === "Right" }
      })
  )

  tools.registerTool(
    "gitlab_projects",
    { description: "Declares a credential no backend provides.", credentials: { gitlab: "oauth" } },
    () => "unreachable"
  )
  return server
}

const main = Effect.gen(function*() {
  const github = yield* FakeApi.make({
    name: "github-api",
    accept: { [demo.githubToken]: "octo-dev" },
    respond: ({ path }) => ({ pull: path.includes("/pulls/") ? { title: "Fix login redirect", state: "open" } : undefined })
  })
  const jira = yield* FakeApi.make({
    name: "jira-api",
    accept: { [demo.jiraToken]: "dev@acme.example" },
    respond: ({ path }) => ({ issue: { key: path.split("/").pop(), summary: "Login redirects loop" } })
  })
  const url = yield* Example.serveHttp(
    McpHttpServer.layer({ port: Example.listenPort(3005), server: makeServer({ github: github.url, jira: jira.url }) })
      .pipe(Layer.provide(AppLayer))
  )
  if (Example.isServe) {
    return yield* Example.keepServing([
      `multi-credential example (fake GitHub API on ${github.url}, fake Jira API on ${jira.url})`,
      ...Example.connectHelp(url)
    ])
  }

  console.log(`multi-credential: MCP server ${url.href}, fake GitHub API ${github.url}, fake Jira API ${jira.url}`)
  yield* Effect.promise(async () => {
    const client = await Example.connect(url)
    await Example.listTools(client)
    await Example.call(client, "link_issue_to_pr", { issue: "APP-42", pr: 17 })
    await Example.call(client, "github_whoami")
    Example.note("a tool sees only the credentials it declared")
    await Example.call(client, "gitlab_projects")
    await client.close()
  })
})

Example.run(main)
