/**
 * Runs the built `examples/oauth-downstream` program (`npx tsc -b` builds it) the way its npm
 * script does, and checks it exits 0 with the key lines of its transcript and no client secret,
 * inbound token or refresh token in its output.
 */
import { assert, describe, it } from "@effect/vitest"
import { runExample } from "./runExample.js"


describe("examples/oauth-downstream", () => {
  it("runs end to end and exits 0", { timeout: 90_000 }, async () => {
    const run = await runExample("examples/dist/oauth-downstream/main.js", 80_000)
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
