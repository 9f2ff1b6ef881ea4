/**
 * Runs the built `examples/pat-elicitation` program (`npx tsc -b` builds it) the way its npm
 * script does, and checks it exits 0 with the key lines of its transcript and no PAT on stdout
 * apart from the scripted browser's own input.
 */
import { assert, describe, it } from "@effect/vitest"
import { runExample } from "./runExample.js"


describe("examples/pat-elicitation", () => {
  it("runs end to end on its embedded defaults and exits 0", { timeout: 90_000 }, async () => {
    const run = await runExample("examples/dist/pat-elicitation/main.js", 80_000)
    assert.strictEqual(run.code, 0, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`)
    for (const line of [
      "<- elicitation/create (mode url): Jira credentials required for 'alice'.",
      "ok: another user is refused",
      "ok: validate refused the wrong PAT before the link was used",
      "<- notifications/elicitation/complete",
      "<- You are Alice Example on Jira.",
      "ok: the store file (default.json) holds no plaintext PAT",
      "/credentials/jira/connect",
      "<- You are Bob Example on Jira.",
      "Done: every step behaved as shown."
    ]) assert.include(run.stdout, line)
    assert.notInclude(run.stdout, "UNEXPECTED")
    assert.notInclude(run.stderr, "jira-pat-alice-7f3a9c")
  })

  it("the v2 line (main-v2.js, 2026-07-28 input-required + requestState) runs end to end and exits 0", { timeout: 90_000 }, async () => {
    const run = await runExample("examples/dist/pat-elicitation/main-v2.js", 80_000)
    assert.strictEqual(run.code, 0, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`)
    for (const line of [
      "ok: the client speaks 2026-07-28",
      "<- input required: elicitation/create (mode url): Jira credentials required for 'alice'.",
      "ok: another user is refused",
      "<- You are Alice Example on Jira.",
      "ok: a tampered requestState is refused",
      "ok: a replayed requestState is refused",
      "Done: every step behaved as shown."
    ]) assert.include(run.stdout, line)
    assert.notInclude(run.stdout, "UNEXPECTED")
    assert.notInclude(run.stderr, "jira-pat-alice-7f3a9c")
  })
})

describe("examples/token-exchange", () => {
  it("runs end to end on its embedded defaults and exits 0, with no token on stdout", { timeout: 60_000 }, async () => {
    const run = await runExample("examples/dist/token-exchange/main.js", 50_000)
    assert.strictEqual(run.code, 0, `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`)
    for (const line of [
      "ok: the orders API accepts only tokens issued for it",
      `<- orders API HTTP 200: {"user":"user-alice-01","via":"demo-mcp-server"`,
      "ok: still one exchange (1)",
      "ok: bob sees only his orders",
      "<- the orders token is [redacted]",
      "Done: every step behaved as shown."
    ]) assert.include(run.stdout, line)
    assert.notInclude(run.stdout, "UNEXPECTED")
    // no JWT (the users' or the exchanged tokens) in the transcript or the logs
    assert.notMatch(run.stdout + run.stderr, /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/)
  })
})
