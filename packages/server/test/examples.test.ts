/**
 * Runs every built example (`examples/dist`, built by `npx tsc -b`) as a real program, the way its
 * npm script does, and checks that it exits 0 and prints the key lines of its transcript.
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { beforeAll, describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const dist = `${root}examples/dist`
const timeout = 60_000

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `node examples/dist/<file>` from the repository root. */
const runExample = (file: string, env: Record<string, string> = {}): Promise<Run> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [`${dist}/${file}`], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
      timeout
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")))
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

const expectSuccess = (run: Run, ...lines: ReadonlyArray<string>) => {
  if (run.code !== 0) throw new Error(`exit code ${run.code}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`)
  for (const line of lines) expect(run.stdout).toContain(line)
}

describe.concurrent("examples", () => {
  beforeAll(() => {
    if (!existsSync(`${dist}/demo/main.js`)) throw new Error("examples/dist is missing: run `npx tsc -b` first")
  })

  it("static-env over HTTP", { timeout }, async () => {
    expectSuccess(
      await runExample("static-env/http.js"),
      `"account":"demo-user"`,
      `"received":"X-Api-Key: [redacted]"`
    )
  })

  it("static-env over stdio", { timeout }, async () => {
    const run = await runExample("static-env/stdio.js")
    expectSuccess(run, "<- get_forecast, list_cities", `"city":"Nairobi","account":"demo-user"`)
  })

  it("oauth-env", { timeout }, async () => {
    expectSuccess(
      await runExample("oauth-env/main.js"),
      `"isExpired":true`,
      `"received":"Authorization: Bearer [redacted]"`
    )
  })

  it("gateway-headers", { timeout }, async () => {
    expectSuccess(
      await runExample("gateway-headers/main.js"),
      `{"account":"alice"`,
      `{"account":"bob"`,
      "the request has no gateway signature",
      "X-MCP-Gateway-Signature does not match the credential headers"
    )
  })

  it("mode-switch", { timeout }, async () => {
    expectSuccess(
      await runExample("mode-switch/main.js"),
      `{"account":"server-account"`,
      "Missing credential headers: X-MCP-Cred-Fields",
      `{"account":"hosted-user-42"`,
      "server not started: Invalid MCP_CREDENTIAL_MODE"
    )
  })

  it("multi-credential", { timeout }, async () => {
    expectSuccess(
      await runExample("multi-credential/main.js"),
      `"githubAccount":"octo-dev","githubScopes":["repo","read:org"],"jiraAccount":"dev@acme.example"`,
      `"jiraInScope":false`,
      "Credential not found: 'gitlab'"
    )
  })

  it("plain-async", { timeout }, async () => {
    expectSuccess(
      await runExample("plain-async/server.js"),
      `created "Write the quarterly report" for grace`,
      `"received":"X-Api-Key: [redacted]"`
    )
  })

  it("jwt-jwks", { timeout }, async () => {
    const run = await runExample("jwt-jwks/main.js")
    expectSuccess(
      run,
      `HTTP 401 {"error":"invalid_token"}`,
      `WWW-Authenticate: Bearer resource_metadata="http://127.0.0.1:`,
      `{"name":"Alice Admin","email":"alice@example.com","sub":"user-alice-01","clientId":"demo-mcp-client","scopes":["read","admin"]`,
      "<- cache purged by alice@example.com",
      "<- ERROR Tool purge_cache requires the scope(s) admin",
      "the unknown kid made the server refetch the JWKS (2 fetches in all)",
      `error_description="wrong audience"`,
      `error_description="expired"`,
      "verifyPromise(alice's token) -> subject user-alice-01, scopes read",
      "verifyPromise(an expired token) -> rejected with InvalidTokenError: Invalid bearer token: expired"
    )
    // after the rotation, a token signed with the new kid is accepted
    expect(run.stdout).toMatch(/signed with key-2[^\n]*\n-> whoami\n   <- \{"name":"Alice Admin"/)
  })

  it("jwe-auth", { timeout }, async () => {
    const run = await runExample("jwe-auth/main.js")
    expectSuccess(
      run,
      `"alg":"RSA-OAEP-256","use":"enc"`,
      `HTTP 401 {"error":"invalid_token"}`,
      "<- Hello, Dev! (dev@example.com)",
      `HTTP 403 {"error":"missing_scopes","missing":[{"scope":"email"}]}`,
      `HTTP 401 {"error":"invalid_token","error_description":"unsigned JWE payload"}`,
      `HTTP 401 {"error":"invalid_token","error_description":"bad signature"}`
    )
    expect(run.stdout).not.toContain(`"d":`) // the published key set has no private member
  })

  it("demo: the leak audit finds no secret", { timeout }, async () => {
    const run = await runExample("demo/main.js")
    expectSuccess(run, "<- account: alice", "<- key plain: [redacted]")
    expect(run.stdout).toMatch(/^leak audit: [1-9]\d* messages, [1-9]\d* log lines, 0 secret occurrences$/m)
    expect(run.stdout.match(/^leak audit:/gm)).toHaveLength(1)
  })

  it("quickstart-v2: a 2026-07-28 client and a 2025-era client on one endpoint, key scrubbed", { timeout }, async () => {
    const run = await runExample("quickstart-v2/server.js")
    expectSuccess(
      run,
      "protocol era: modern",
      "<- get_forecast, debug_echo_key, roll_dice",
      `<- {"city":"Lisbon","forecast":[{"day":"today"`,
      `<- {"city":"Oslo","forecast":[{"day":"today"`,
      "<- The API key is [redacted]"
    )
    expect(run.stdout).not.toContain("sk-demo-quickstart")
    expect(run.stdout.match(/The API key is \[redacted\]/g)).toHaveLength(2)
  })

  it("quickstart serves and answers initialize", { timeout }, async () => {
    const child = spawn(process.execPath, [`${dist}/quickstart/server.js`], {
      cwd: root,
      env: { ...process.env, PORT: "0" },
      stdio: ["ignore", "pipe", "pipe"],
      timeout
    })
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = ""
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString("utf8")
          const m = /MCP endpoint \(Streamable HTTP\): (\S+)/.exec(out)
          if (m !== null && out.includes("Serving.")) resolve(m[1]!)
        })
        child.on("close", (code) => reject(new Error(`quickstart exited with ${code}: ${out}`)))
      })
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "initialize",
          params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "test", version: "0" } }
        })
      })
      expect(response.status).toBe(200)
      expect(response.headers.get("mcp-session-id")).toBeTruthy()
      expect(await response.text()).toContain(`"name":"mcp-credentials-quickstart"`)
    } finally {
      child.kill("SIGINT")
    }
  })
})
