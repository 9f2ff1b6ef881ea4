/**
 * Two replicas as two OS processes (issue 6 "Multi-replica test"): `test/fixtures/replicaServer.mjs`
 * is spawned twice with `node` on the built packages (`npx tsc -b`; the root `pretest` builds),
 * sharing Redis, then Postgres. The OpenID provider and the fake Jira run in this process. A real
 * MCP client calls a tool on replica A → URL elicitation → the scripted browser signs in and
 * submits the form on replica B → A's blocked tool call completes (Redis pub/sub, Postgres
 * LISTEN/NOTIFY); B then serves the stored credential without a new elicitation.
 *
 * Skipped with a printed reason when a service is absent; failed instead when
 * MCP_CREDENTIALS_REQUIRE_SERVICES=1. Each run uses its own key prefix / schema and removes it.
 */
import { afterAll, assert, describe, it, vi } from "@effect/vitest"
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import { fileURLToPath } from "node:url"
import { CredentialsPage, Keyring } from "../src/index.js"
import { Browser, connectClient, errorText, type Stack, startFakeApi, startIdp, textOf, TOKENS } from "./stack.js"
import { deleteRedisPrefix, dropPgSchemas, pgClient, probePg, probeRedis, redisUrl, required } from "./services.js"

const runId = crypto.randomBytes(4).toString("hex")
const redisPrefix = `mcv-processes:${runId}:`
const pgSchema = `mcv_processes_${runId}`
const keySpec = Keyring.generateSpec("procs")
const fixture = fileURLToPath(new URL("./fixtures/replicaServer.mjs", import.meta.url))
const built = fileURLToPath(new URL("../dist/index.js", import.meta.url))

const redisReason = await probeRedis()
const pg = await probePg()
const notBuilt = fs.existsSync(built) ? undefined : "packages/vault/dist is missing (run `npx tsc -b`)"

afterAll(async () => {
  if (redisReason === undefined) await deleteRedisPrefix(redisPrefix)
  if (pg.user !== undefined) await dropPgSchemas(pg.user, pgSchema)
})

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

interface Replica {
  readonly baseUrl: string
  readonly pid: number
  readonly stderr: () => string
  readonly stop: () => Promise<void>
}

/** Spawns one replica process and waits for its "ready" line (15 s at most). */
const spawnReplica = (port: number, env: Record<string, string>): Promise<Replica> =>
  new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, [fixture], {
      env: { ...process.env, ...env, PORT: String(port), VAULT_TEST_KEY: keySpec },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    const exited = new Promise<void>((r) => child.once("exit", () => r()))
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
      await exited
    }
    const timer = setTimeout(() => {
      void stop()
      reject(new Error(`replica on port ${port} did not start: ${err.slice(0, 2000)}`))
    }, 15_000)
    child.stderr!.on("data", (d) => (err += d))
    child.stdout!.on("data", (d) => {
      out += d
      const m = /ready (\S+)/.exec(out)
      if (m !== null) {
        clearTimeout(timer)
        resolve({ baseUrl: m[1]!, pid: child.pid!, stderr: () => err, stop })
      }
    })
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`replica on port ${port} exited with ${code}: ${err.slice(0, 2000)}`))
    })
  })

const backends = [
  {
    name: "redis",
    reason: redisReason ?? notBuilt,
    env: (): Record<string, string> => ({ BACKEND: "redis", REDIS_URL: redisUrl, REDIS_PREFIX: redisPrefix })
  },
  {
    name: "postgres",
    reason: pg.reason ?? notBuilt,
    env: (): Record<string, string> => ({ BACKEND: "postgres", PG_USER: pg.user ?? "postgres", PG_SCHEMA: pgSchema })
  }
] as const

for (const backend of backends) {
  if (backend.reason !== undefined) {
    if (required) {
      describe(`two server processes over ${backend.name}`, () => {
        it("the service is required (MCP_CREDENTIALS_REQUIRE_SERVICES=1)", () => assert.fail(backend.reason))
      })
    } else {
      console.log(`[vault process tests] ${backend.name} skipped: ${backend.reason}`)
    }
    continue
  }

  describe(`two server processes over ${backend.name}`, () => {
    it("the elicitation starts on process A, the form is submitted to process B, A's tool call completes", async () => {
      vi.spyOn(console, "warn").mockImplementation(() => undefined)
      const api = await startFakeApi()
      const idp = await startIdp()
      const replicas: Array<Replica> = []
      try {
        const ports = [await freePort(), await freePort()]
        for (const port of ports) await idp.configure(CredentialsPage.redirectUri({ baseUrl: `http://127.0.0.1:${port}` }))
        const env = { ...backend.env(), ISSUER: idp.issuer, API_URL: api.url }
        // sequentially: both would otherwise race to create the Postgres schema (an advisory lock
        // serialises it anyway) and compete for the two cores
        replicas.push(await spawnReplica(ports[0]!, env))
        replicas.push(await spawnReplica(ports[1]!, env))
        const [a, b] = replicas as [Replica, Replica]
        assert.notStrictEqual(a.pid, b.pid)

        let submittedOnB = false
        const c = await connectClient({ mcpUrl: new URL(`${a.baseUrl}/mcp`) } as Stack, TOKENS.alice, {
          url: true,
          onUrl: async (url) => {
            assert.isTrue(url.startsWith(a.baseUrl), "the link points at replica A")
            // a load balancer sends the browser to replica B
            const browser = new Browser()
            const form = await browser.open(url.replace(a.baseUrl, b.baseUrl), "alice")
            assert.strictEqual(form.status, 200, errorText(form.body))
            const done = await browser.submit(form, { pat: "pat-alice-0123456789" })
            assert.strictEqual(done.status, 200, errorText(done.body))
            submittedOnB = true
          }
        })
        try {
          const started = Date.now()
          const result = await c.client.callTool({ name: "jira_whoami" })
          assert.isTrue(submittedOnB, "the form was submitted on B")
          assert.strictEqual(textOf(result), `Jira says you are Alice Jira (served by pid ${a.pid})`)
          assert.strictEqual(c.elicitations.length, 1)
          assert.isBelow(Date.now() - started, 10_000)
        } finally {
          await c.close()
        }
        // B reads the credential A's flow stored (through the shared store), with no new elicitation
        const c2 = await connectClient({ mcpUrl: new URL(`${b.baseUrl}/mcp`) } as Stack, TOKENS.alice, { url: true })
        try {
          assert.strictEqual(textOf(await c2.client.callTool({ name: "jira_whoami" })), `Jira says you are Alice Jira (served by pid ${b.pid})`)
          assert.strictEqual(c2.elicitations.length, 0)
        } finally {
          await c2.close()
        }
        for (const r of replicas) assert.notInclude(r.stderr(), "pat-alice-0123456789", "no replica logs the PAT")
      } finally {
        await Promise.all(replicas.map((r) => r.stop()))
        await idp.close()
        await api.close()
        vi.restoreAllMocks()
      }
    }, 45_000)
  })
}
