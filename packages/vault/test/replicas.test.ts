/**
 * Two replicas of the MCP server (two stacks with their own store connections) sharing Redis,
 * then Postgres, on both SDK lines: the elicitation starts on replica A, the user signs in and
 * submits the form on replica B, and A's waiting tool call (v1) or A's retry after the
 * input-required result (v2) completes (Redis pub/sub, Postgres LISTEN/NOTIFY); on v2 a retry
 * sent to B instead also runs. Skipped with a printed reason when a service is absent; failed
 * instead when MCP_CREDENTIALS_REQUIRE_SERVICES=1. Each run uses its own key prefix / schema and removes it.
 */
import { afterAll, assert, describe, it, vi } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import * as crypto from "node:crypto"
import { CredentialsProvider, Keyring } from "../src/index.js"
import * as PgStore from "../src/PgStore.js"
import * as RedisStore from "../src/RedisStore.js"
import { Browser, connectClientV2, connectLine, errorText, LINES, startStack, textOf, TOKENS } from "./stack.js"
import { deleteRedisPrefix, dropPgSchemas, pgClient, probePg, probeRedis, redisUrl, required } from "./services.js"

const runId = crypto.randomBytes(4).toString("hex")
const redisPrefix = `mcv-replicas:${runId}:`
const pgSchema = `mcv_replicas_${runId}`
const keySpec = Keyring.generateSpec("replicas")
const keyring = Keyring.layer(Redacted.make(keySpec))

const redisReason = await probeRedis()
const pg = await probePg()

afterAll(async () => {
  if (redisReason === undefined) await deleteRedisPrefix(redisPrefix)
  if (pg.user !== undefined) await dropPgSchemas(pg.user, pgSchema)
})

const backends = [
  {
    name: "redis",
    reason: redisReason,
    stores: () => RedisStore.layer({ url: Redacted.make(redisUrl), prefix: redisPrefix }).pipe(Layer.provide(keyring))
  },
  {
    name: "postgres",
    reason: pg.reason,
    stores: () => PgStore.layer({ schema: pgSchema }).pipe(Layer.provide(keyring), Layer.provide(pgClient(pg.user ?? "postgres")))
  }
] as const

for (const backend of backends) {
  if (backend.reason !== undefined) {
    if (required) {
      describe(`replicas over ${backend.name}`, () => {
        it("the service is required (MCP_CREDENTIALS_REQUIRE_SERVICES=1)", () => assert.fail(backend.reason))
      })
    } else {
      console.log(`[vault replica tests] ${backend.name} skipped: ${backend.reason}`)
    }
    continue
  }

  describe.each(LINES)(`replicas over ${backend.name} on the %s line`, (line) => {
    // v1 (2025-11-25): A's call blocks until B's form submission wakes it (pub/sub, LISTEN/NOTIFY).
    // v2 (2026-07-28): A's first leg ends input-required; the client's retry on A waits for the
    // form submitted on B; the request state is sealed with the key ring both replicas share.
    it("the elicitation starts on replica A, the form is submitted to replica B, A's tool call completes; B sees the credential", async () => {
      vi.spyOn(console, "warn").mockImplementation(() => undefined)
      const a = await startStack({ line, mode: "blocking", stores: backend.stores(), keyring })
      const b = await startStack({ line, mode: "blocking", stores: backend.stores(), keyring, idp: a.idp, api: a.api })
      let submittedOnB = false
      try {
        const c = await connectLine(line, a, TOKENS.alice, {
          onUrl: async (url) => {
            // a load balancer sends the browser to replica B
            const onB = url.replace(a.baseUrl, b.baseUrl)
            const browser = new Browser()
            const form = await browser.open(onB, "alice")
            assert.strictEqual(form.status, 200, errorText(form.body))
            const done = await browser.submit(form, { pat: "pat-alice-0123456789" })
            assert.strictEqual(done.status, 200, errorText(done.body))
            submittedOnB = true
          }
        })
        try {
          const started = Date.now()
          const result = await c.callTool("jira_whoami")
          assert.isTrue(submittedOnB)
          assert.strictEqual(textOf(result), "Jira says you are Alice Jira", JSON.stringify(result).slice(0, 300))
          assert.isBelow(Date.now() - started, 10_000)
          assert.strictEqual(c.elicitations.length, 1)
          assert.isTrue(String(c.elicitations[0]!.url).startsWith(`${a.baseUrl}/credentials/jira/entry?t=`))
          assert.strictEqual(typeof c.elicitations[0]!.elicitationId, line === "v1" ? "string" : "undefined")
          // B sees the stored credential too
          const c2 = await connectLine(line, b, TOKENS.alice)
          assert.strictEqual(textOf(await c2.callTool("jira_whoami")), "Jira says you are Alice Jira")
          assert.strictEqual(c2.elicitations.length, 0)
          await c2.close()
        } finally {
          await c.close()
          await a.runStores(CredentialsProvider.revoke("alice"))
        }
      } finally {
        await b.close()
        await a.close()
        vi.restoreAllMocks()
      }
    })
  })

  describe(`replicas over ${backend.name}: the v2 retry on the other replica`, () => {
    it("the first leg on A ends input-required, the form is submitted to B, the retry carrying the requestState runs on B", async () => {
      vi.spyOn(console, "warn").mockImplementation(() => undefined)
      const a = await startStack({ line: "v2", stores: backend.stores(), keyring })
      const b = await startStack({ line: "v2", stores: backend.stores(), keyring, idp: a.idp, api: a.api })
      const onA = await connectClientV2(a, TOKENS.alice)
      const onB = await connectClientV2(b, TOKENS.alice)
      try {
        const first: any = await onA.client.callTool({ name: "jira_whoami" }, { allowInputRequired: true } as never)
        assert.strictEqual(first.resultType, "input_required", JSON.stringify(first).slice(0, 300))
        const url: string = first.inputRequests.jira.params.url
        const browser = new Browser()
        const form = await browser.open(url.replace(a.baseUrl, b.baseUrl), "alice")
        assert.strictEqual(form.status, 200, errorText(form.body))
        assert.strictEqual((await browser.submit(form, { pat: "pat-alice-0123456789" })).status, 200)
        const retried = await onB.client.callTool(
          { name: "jira_whoami", requestState: first.requestState, inputResponses: { jira: { action: "accept" } } } as never,
          { allowInputRequired: true } as never
        )
        assert.strictEqual(textOf(retried), "Jira says you are Alice Jira", JSON.stringify(retried).slice(0, 300))
      } finally {
        await onA.close()
        await onB.close()
        await a.runStores(CredentialsProvider.revoke("alice"))
        await b.close()
        await a.close()
        vi.restoreAllMocks()
      }
    })
  })
}
