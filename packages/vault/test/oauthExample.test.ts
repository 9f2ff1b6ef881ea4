/**
 * Runs the built `examples/oauth-downstream` program (`npx tsc -b` builds it) the way its npm
 * script does, and checks it exits 0 with the key lines of its transcript and no client secret,
 * inbound token or refresh token in its output.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const main = `${root}examples/dist/oauth-downstream/main.js`

describe("examples/oauth-downstream", () => {
  it("runs end to end and exits 0", { timeout: 90_000 }, async () => {
    if (!existsSync(main)) throw new Error("examples/dist is missing: run `npx tsc -b` first")
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [main], { cwd: root, stdio: ["ignore", "pipe", "pipe"], timeout: 80_000 })
      let stdout = ""
      let stderr = ""
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")))
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")))
      child.on("error", reject)
      child.on("close", (code) => resolve({ code, stdout, stderr }))
    })
    assert.strictEqual(run.code, 0, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`)
    for (const line of [
      "(stored: <redacted> access token, refresh token present",
      `<- {"profile":{"sub":"ada","name":"Ada Lovelace"}`,
      "<- 25/25 calls succeeded; requests to the token endpoint: 1",
      "<- ERROR Invalid corp authorization: no authorization is stored for this user; authorize first.",
      "<- ERROR Invalid corp authorization: the provider rejected the refresh token (invalid_grant); authorize again."
    ]) assert.include(run.stdout, line)
    for (const secret of ["demo-corp-client-secret-8f3a1c", "demo-inbound-token-ada-4e1b", "demo-revoked-refresh-token"]) {
      assert.notInclude(run.stdout, secret)
      assert.notInclude(run.stderr, secret)
    }
  })
})
