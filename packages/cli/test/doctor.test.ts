import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { assertBuilt, isOneLine, run, runInProcess, tempDir } from "./helpers.js"

/** Every value below contains CANARY; none may appear in stdout or stderr. */
const CANARY = "CANARY"
const noCanary = (r: { readonly stdout: string; readonly stderr: string }) => {
  assert.notInclude(r.stdout, CANARY)
  assert.notInclude(r.stderr, CANARY)
}

describe.concurrent("doctor", () => {
  const tmp = tempDir()
  beforeAll(assertBuilt)
  afterAll(tmp.cleanup)
  const doctor = (args: ReadonlyArray<string>, env: Record<string, string>) => run(["doctor", ...args], { cwd: tmp.dir, env })

  /**
   * The same in process, for the variants: `env` is the whole configuration, and for the moment of
   * the call also `process.env` (doctor lists FIELD_* names from it), one call at a time.
   */
  let envLock: Promise<unknown> = Promise.resolve()
  const doctorInProcess = (args: ReadonlyArray<string>, env: Record<string, string>) => {
    const call = envLock.then(async () => {
      const saved = process.env
      const keep = Object.entries(saved).filter(([k]) => k === "PATH" || k === "NODE_ENV" || k.startsWith("VITEST"))
      process.env = { ...Object.fromEntries(keep), ...env }
      try {
        return await runInProcess(["doctor", ...args], env)
      } finally {
        process.env = saved
      }
    })
    envLock = call.catch(() => undefined)
    return call
  }

  it("a good oss env: kinds, field names, scopes, expiry, presence of secrets; exit 0; no value printed", async () => {
    const r = await doctor(["--prefix", "github_"], {
      GITHUB_FIELDS: `{"apiKey":"${CANARY}-1","org":"${CANARY}-2","retries":3}`,
      GITHUB_FIELD_ignored: `${CANARY}-3`,
      GITHUB_ACCESS_TOKEN: `${CANARY}-4`,
      GITHUB_REFRESH_TOKEN: `${CANARY}-5`,
      GITHUB_CLIENT_ID: `${CANARY}-6`,
      GITHUB_CLIENT_SECRET: `${CANARY}-7`,
      GITHUB_TOKEN_URI: `https://${CANARY}.example/token`,
      GITHUB_SCOPES: "repo read:org",
      GITHUB_EXPIRES_AT: "2999-01-01T00:00:00Z",
      GITHUB_EXTRA_REGION: `${CANARY}-8`
    })
    assert.strictEqual(r.code, 0, r.stdout + r.stderr)
    noCanary(r)
    assert.match(r.stdout, /^mode\s+oss \(default\)$/m)
    assert.match(r.stdout, /^backend\s+Env, prefix GITHUB_$/m)
    assert.match(r.stdout, /^static\s+ok$/m)
    assert.match(r.stdout, /^ {2}source\s+GITHUB_FIELDS$/m)
    assert.match(r.stdout, /^ {2}fields\s+apiKey, org, retries$/m)
    assert.match(r.stdout, /^oauth\s+ok$/m)
    assert.match(r.stdout, /^ {2}refresh token\s+set \(GITHUB_REFRESH_TOKEN\)$/m)
    assert.match(r.stdout, /^ {2}client secret\s+set \(GITHUB_CLIENT_SECRET\)$/m)
    assert.match(r.stdout, /^ {2}scopes\s+repo read:org$/m)
    assert.match(r.stdout, /^ {2}expires\s+2999-01-01T00:00:00.000Z \(in \d+d\)$/m)
    assert.match(r.stdout, /^ {2}extra\s+region$/m)
    assert.include(r.stdout, "GITHUB_FIELDS is set, so GITHUB_FIELD_ignored is ignored.")
    assert.match(r.stdout, /^result: ok$/m)
    assert.strictEqual(r.stderr, "")
  })

  it("FIELD_* variables: names listed, one kind is enough (in process)", async () => {
    const r = await doctorInProcess([], { FIELD_apiKey: `${CANARY}-1`, FIELD_Secret: `${CANARY}-2` })
    assert.strictEqual(r.code, 0, r.stdout + r.stderr)
    noCanary(r)
    assert.match(r.stdout, /^ {2}fields\s+Secret, apiKey$/m)
    assert.match(r.stdout, /^oauth\s+not configured$/m)
    assert.include(r.stdout, "No OAuth access token found. Set ACCESS_TOKEN.")
  })

  it("a bad env: the library's messages, non-zero exit, one line on stderr, no value printed", async () => {
    const r = await doctor(["--prefix", "SVC_"], {
      SVC_FIELDS: `{"apiKey": "${CANARY}-1", `,
      SVC_ACCESS_TOKEN: `${CANARY}-2`,
      SVC_EXPIRES_AT: `${CANARY}-not-a-date`
    })
    assert.strictEqual(r.code, 1)
    noCanary(r)
    // the exact messages of @mcp-credentials/core's InvalidCredentialError
    assert.include(r.stdout, "Invalid SVC_FIELDS: not valid JSON. Value must be a JSON object")
    assert.include(r.stdout, "Invalid SVC_EXPIRES_AT: not an ISO-8601 date-time, e.g. 2026-05-04T12:00:00Z.")
    assert.match(r.stdout, /^result: 2 problems$/m)
    assert.isTrue(isOneLine(r.stderr), r.stderr)
    assert.include(r.stderr, "doctor found 2 problems")
  })

  it("a nested field value is refused by name, as the library does (in process)", async () => {
    const r = await doctorInProcess([], { FIELDS: `{"token":{"v":"${CANARY}"}}` })
    assert.strictEqual(r.code, 1)
    noCanary(r)
    assert.include(r.stdout, `Invalid FIELDS: field "token" must be a string, number or boolean, not an object.`)
  })

  it("nothing configured: both library messages, exit 1 (in process)", async () => {
    const r = await doctorInProcess([], {})
    assert.strictEqual(r.code, 1)
    assert.include(r.stdout, "No static credentials found. Set FIELDS (JSON object) or individual FIELD_<name> env vars.")
    assert.include(r.stdout, "No OAuth access token found. Set ACCESS_TOKEN.")
  })

  it("--kind oauth: the missing kind is a problem; an expired token is a problem (in process)", async () => {
    const [missing, expired] = await Promise.all([
      doctorInProcess(["--kind", "oauth"], { FIELDS: `{"a":"${CANARY}"}` }),
      doctorInProcess(["--kind", "oauth"], { ACCESS_TOKEN: CANARY, EXPIRES_AT: "2020-01-01T00:00:00Z" })
    ])
    assert.strictEqual(missing.code, 1)
    noCanary(missing)
    assert.notMatch(missing.stdout, /^static/m)
    assert.strictEqual(expired.code, 1)
    noCanary(expired)
    assert.match(expired.stdout, /^oauth\s+expired$/m)
    assert.include(expired.stdout, "has expired")
  })

  it("an invalid MCP_CREDENTIAL_MODE: the library's message, value not quoted (in process)", async () => {
    const r = await doctorInProcess([], { MCP_CREDENTIAL_MODE: `${CANARY}-mode`, FIELDS: "{}" })
    assert.strictEqual(r.code, 1)
    noCanary(r)
    assert.include(r.stdout, "Invalid MCP_CREDENTIAL_MODE. Valid values: oss, hosted")
  })

  it("hosted mode (from MCP_CREDENTIAL_MODE or --mode): the gateway headers, env credentials noted as ignored", async () => {
    const [r, flag, oss] = await Promise.all([
      doctor([], { MCP_CREDENTIAL_MODE: "hosted", ACCESS_TOKEN: CANARY }),
      doctorInProcess(["--mode", "hosted"], { MCP_CREDENTIAL_MODE: "oss" }),
      doctorInProcess(["--mode", "oss"], { MCP_CREDENTIAL_MODE: "hosted", FIELD_a: CANARY })
    ])
    assert.strictEqual(r.code, 0, r.stdout + r.stderr)
    noCanary(r)
    assert.match(r.stdout, /^mode\s+hosted \(MCP_CREDENTIAL_MODE\)$/m)
    assert.include(r.stdout, "X-MCP-Cred-Fields")
    assert.include(r.stdout, "X-MCP-Cred-Access-Token")
    assert.include(r.stdout, "ACCESS_TOKEN is set but ignored in hosted mode.")
    assert.match(flag.stdout, /^mode\s+hosted \(--mode\)$/m)
    assert.strictEqual(oss.code, 0)
    assert.match(oss.stdout, /^static\s+ok$/m)
  })

  it("bad arguments: one line, exit 2", async () => {
    const cases = [["--mode", "cloud"], ["--prefix"]]
    const results = await Promise.all([doctor(cases[0]!, {}), doctorInProcess(cases[1]!, {})])
    for (const [i, args] of cases.entries()) {
      const r = results[i]!
      assert.strictEqual(r.code, 2, `${args.join(" ")}: ${r.stderr}`)
      assert.isTrue(isOneLine(r.stderr), r.stderr)
    }
  })
})
