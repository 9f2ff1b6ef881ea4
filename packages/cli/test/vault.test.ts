import { PgClient } from "@effect/sql-pg"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { ResolvedCredential } from "@mcp-credentials/core"
import { CredentialStore, FileStore, Keyring } from "@mcp-credentials/vault"
import { DateTime, Effect, Layer, Redacted } from "effect"
import { Redis } from "ioredis"
import { randomBytes } from "node:crypto"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
// subpath modules of the vault are not aliased by vitest.config.ts: import them from the sources
import * as PgStore from "../../vault/src/PgStore.js"
import * as RedisStore from "../../vault/src/RedisStore.js"
import { assertBuilt, isOneLine, run, runInProcess, tempDir } from "./helpers.js"

/** Every stored value contains CANARY; none may appear in the CLI's output. */
const CANARY = "CANARY"
const KEY = Keyring.generateSpec("k1")
const OTHER_KEY = Keyring.generateSpec("k2")
const RUN = randomBytes(4).toString("hex")

type Stores = CredentialStore.CredentialStore

/** alice: github (static, written twice, 30-day TTL) and jira (OAuth); bob: github. */
const seed = (layer: Layer.Layer<Stores, unknown>) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const store = yield* CredentialStore.CredentialStore
      const github = ResolvedCredential.StaticCredential.fromFields({ apiKey: `${CANARY}-1`, org: `${CANARY}-2` })
      yield* store.set({ provider: "github", subject: "alice" }, github)
      yield* store.set({ provider: "github", subject: "alice" }, github, { ttl: "30 days" })
      yield* store.set(
        { provider: "jira", subject: "alice" },
        new ResolvedCredential.OAuthCredential({
          type: "oauth",
          accessToken: Redacted.make(`${CANARY}-3`),
          refreshToken: Redacted.make(`${CANARY}-4`),
          clientSecret: Redacted.make(`${CANARY}-5`),
          scopes: ["read", "write"],
          expiresAt: DateTime.unsafeMake("2030-01-01T00:00:00Z"),
          extra: { region: `${CANARY}-6` }
        })
      )
      yield* store.set({ provider: "github", subject: "bob" }, ResolvedCredential.StaticCredential.fromFields({ token: `${CANARY}-7` }))
    }).pipe(Effect.provide(layer))
  )

const remaining = (layer: Layer.Layer<Stores, unknown>) =>
  Effect.runPromise(
    Effect.flatMap(CredentialStore.CredentialStore, (s) => s.list()).pipe(
      Effect.map((list) => list.map((c) => `${c.subject}/${c.provider}`).sort()),
      Effect.provide(layer)
    )
  )

const noCanary = (r: { readonly stdout: string; readonly stderr: string }) => {
  assert.notInclude(r.stdout, CANARY)
  assert.notInclude(r.stderr, CANARY)
}

interface Backend {
  readonly name: string
  readonly unavailable: string | undefined
  /** The store the CLI opens: its flags and environment. */
  readonly args: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
  /** The same store, in process, for seeding and checking. */
  readonly layer: Layer.Layer<Stores, unknown>
}

const checkTable = (table: { readonly code: number; readonly stdout: string; readonly stderr: string }) => {
  assert.strictEqual(table.code, 0, table.stderr)
  noCanary(table)
  const lines = table.stdout.trimEnd().split("\n")
  assert.strictEqual(lines.length, 4, table.stdout)
  assert.match(lines[0]!, /^PROVIDER\s+SUBJECT\s+KIND\s+GEN\s+EXPIRES\s+TOKEN-EXPIRES\s+FIELDS$/)
  assert.match(lines[1]!, /^github\s+alice\s+static\s+2\s+\d{4}-\d\d-\d\dT[\d:.]+Z\s+-\s+apiKey, org$/)
  assert.match(lines[2]!, /^jira\s+alice\s+oauth\s+1\s+never\s+2030-01-01T00:00:00.000Z\s+accessToken, refreshToken, clientSecret, scopes, expiresAt, extra.region$/)
  assert.match(lines[3]!, /^github\s+bob\s+static\s+1\s+never\s+-\s+token$/)
}

/**
 * The flow on one backend. Short: list, then revoke every provider of alice; the store then holds
 * only bob's credential. Full (the file store): also `--json` with filters, `--provider`, and
 * nothing to revoke.
 */
const flow = (backend: () => Backend, full: boolean) => {
  it(full
    ? "list (table, --json with filters); revoke --provider, revoke all of a subject, nothing to revoke"
    : "list, revoke all of a subject", async () => {
    const b = backend()
    await seed(b.layer)
    const cli = (args: ReadonlyArray<string>) => run(["vault", ...args, ...b.args], { env: { MCP_CREDENTIALS_ENCRYPTION_KEY: KEY, ...b.env } })

    if (!full) {
      checkTable(await cli(["list"]))
      const all = await cli(["revoke", "--sub", "alice"])
      assert.strictEqual(all.code, 0, all.stderr)
      assert.strictEqual(all.stdout.trimEnd(), "Revoked (subject alice): 2 credentials, every provider")
      assert.deepStrictEqual(await remaining(b.layer), ["bob/github"])
      return
    }

    const [table, json] = await Promise.all([cli(["list"]), cli(["list", "--sub", "alice", "--provider", "jira", "--json"])])
    checkTable(table)
    assert.strictEqual(json.code, 0, json.stderr)
    noCanary(json)
    const [jira, ...rest] = JSON.parse(json.stdout)
    assert.strictEqual(rest.length, 0)
    assert.deepStrictEqual({ ...jira, createdAt: typeof jira.createdAt }, {
      provider: "jira",
      subject: "alice",
      kind: "oauth",
      fields: ["accessToken", "refreshToken", "clientSecret", "scopes", "expiresAt", "extra.region"],
      scopes: ["read", "write"],
      generation: 1,
      createdAt: "string",
      expiresAt: null,
      tokenExpiresAt: "2030-01-01T00:00:00.000Z"
    })

    // one writer at a time: the file store is meant for one process (carol's revoke writes nothing)
    const [one, none] = await Promise.all([
      cli(["revoke", "--sub", "alice", "--provider", "github"]),
      cli(["revoke", "--sub", "carol"])
    ])
    assert.strictEqual(one.code, 0, one.stderr)
    assert.strictEqual(one.stdout.trimEnd(), "Revoked (subject alice):\n  github")
    assert.strictEqual(none.code, 1)
    assert.strictEqual(none.stdout, "")
    assert.isTrue(isOneLine(none.stderr), none.stderr)
    assert.include(none.stderr, `No stored credential for subject "carol"`)
    assert.deepStrictEqual(await remaining(b.layer), ["alice/jira", "bob/github"])

    const all = await cli(["revoke", "--sub", "alice"])
    assert.strictEqual(all.code, 0, all.stderr)
    assert.strictEqual(all.stdout.trimEnd(), "Revoked (subject alice): 1 credential, every provider")
    assert.deepStrictEqual(await remaining(b.layer), ["bob/github"])
  })
}

/** A suite that needs a service: skipped with the reason, or failing under MCP_CREDENTIALS_REQUIRE_SERVICES=1. */
const withService = (name: string, unavailable: string | undefined, body: () => void) => {
  if (unavailable === undefined) return describe.concurrent(`vault on ${name}`, body)
  if (process.env.MCP_CREDENTIALS_REQUIRE_SERVICES === "1") {
    return describe(`vault on ${name}`, () => {
      it(`requires ${name} (MCP_CREDENTIALS_REQUIRE_SERVICES=1)`, () => {
        throw new Error(`${name} is unavailable: ${unavailable}`)
      })
    })
  }
  console.warn(`[cli] skipping the vault tests on ${name}: ${unavailable}`)
  describe.skip(`vault on ${name} (skipped: ${unavailable})`, () => {
    it("unavailable", () => {})
  })
}

// -----------------------------------------------------------------------------
// file (always)
// -----------------------------------------------------------------------------

describe.concurrent("vault on the file store", () => {
  const tmp = tempDir()
  beforeAll(assertBuilt)
  afterAll(tmp.cleanup)
  const fileLayer = (namespace: string, key = KEY) =>
    FileStore.layer({ directory: join(tmp.dir, "store"), namespace }).pipe(Layer.provide(Keyring.layer(Redacted.make(key))))

  flow(() => ({
    name: "file",
    unavailable: undefined,
    args: ["--namespace", "flow"],
    // the store and its directory from the environment
    env: { MCP_CREDENTIALS_STORE: "file", MCP_CREDENTIALS_FILE_DIR: join(tmp.dir, "store") },
    layer: fileLayer("flow")
  }), true)

  it("fix: revoke --sub without --provider removes records sealed with a key the keyring no longer holds (without opening them)", async () => {
    const retired = Keyring.generateSpec("k0")
    await seed(fileLayer("retired", retired))
    const store = ["--dir", join(tmp.dir, "store"), "--namespace", "retired"]
    // the keyring now holds k1 only: alice's records, sealed with k0, cannot be opened
    const env = { MCP_CREDENTIALS_ENCRYPTION_KEY: KEY }
    const list = await run(["vault", "list", "--sub", "alice", ...store], { env })
    assert.strictEqual(list.code, 1, list.stderr)
    assert.include(list.stderr, "key id k0")
    const r = await run(["vault", "revoke", "--sub", "alice", ...store], { env })
    assert.strictEqual(r.code, 0, r.stderr)
    assert.strictEqual(r.stdout.trimEnd(), "Revoked (subject alice): 2 credentials, every provider")
    noCanary(r)
    assert.deepStrictEqual(await remaining(fileLayer("retired", retired)), ["bob/github"])
    const none = await runInProcess(["vault", "revoke", "--sub", "alice", ...store], env)
    assert.strictEqual(none.code, 1)
    assert.include(none.stderr, `No stored credential for subject "alice"`)
  })

  it("fix: a malformed store file is a store error (exit 1) naming the file, not an internal error; nothing stored is quoted", async () => {
    const dir = join(tmp.dir, "malformed")
    mkdirSync(dir)
    const cases: ReadonlyArray<[string, string, string]> = [
      ["null-credentials", JSON.stringify({ format: "mcp-credentials/vault@1", credentials: null }), "the store file is malformed"],
      ["null-record", JSON.stringify({ format: "mcp-credentials/vault@1", credentials: { x: null } }), "the store file is malformed"],
      // fix: these listed as "No credentials stored." (exit 0), or hid the record from list
      ["string-credentials", JSON.stringify({ format: "mcp-credentials/vault@1", credentials: "x" }), "the store file is malformed"],
      ["array-credentials", JSON.stringify({ format: "mcp-credentials/vault@1", credentials: [] }), "the store file is malformed"],
      [
        "bad-expiry",
        JSON.stringify({
          format: "mcp-credentials/vault@1",
          credentials: { x: { provider: "github", subject: "alice", generation: 1, expiresAt: "x", sealed: "v1.a.b.c" } }
        }),
        "the store file is malformed"
      ],
      ["not-json", `{"format":"mcp-credentials/vault@1","credentials":{"x":"${CANARY}{`, "the store file is not valid JSON"]
    ]
    const env = { MCP_CREDENTIALS_ENCRYPTION_KEY: KEY }
    for (const [namespace, content, reason] of cases) {
      writeFileSync(join(dir, `${namespace}.json`), content)
      const store = ["--dir", dir, "--namespace", namespace]
      const [list, revoke] = await Promise.all([
        run(["vault", "list", ...store], { env }),
        runInProcess(["vault", "revoke", "--sub", "alice", ...store], env)
      ])
      for (const r of [list, revoke]) {
        const what = `${namespace}: ${r.stderr}`
        assert.strictEqual(r.code, 1, what)
        assert.strictEqual(r.stdout, "", what)
        assert.isTrue(isOneLine(r.stderr), what)
        assert.notInclude(r.stderr, "internal error", what)
        assert.include(r.stderr, "file credential store", what)
        assert.include(r.stderr, `${reason} (${join(dir, `${namespace}.json`)})`, what)
        noCanary(r)
      }
    }
  })

  it("errors: one line on stderr, nothing on stdout, the flag or variable named, no value", async () => {
    await seed(fileLayer("errors"))
    mkdirSync(join(tmp.dir, "other"))
    writeFileSync(join(tmp.dir, "other", "default.json"), JSON.stringify({ keys: [{ kty: "oct", k: CANARY }] }))
    const store = ["--dir", join(tmp.dir, "store"), "--namespace", "errors"]
    const key = { MCP_CREDENTIALS_ENCRYPTION_KEY: KEY }
    // [args, env, exit code, named, through the binary (else in process: argument checks only)]
    const cases: ReadonlyArray<[ReadonlyArray<string>, Record<string, string>, number, string, boolean]> = [
      [["list", ...store], {}, 1, "MCP_CREDENTIALS_ENCRYPTION_KEY: it is not set", true],
      [["list", ...store], { MCP_CREDENTIALS_ENCRYPTION_KEY: OTHER_KEY }, 1, "could not be decrypted (key id k1)", true],
      [["list", "--dir", join(tmp.dir, "other")], key, 1, "not a credential store file", true],
      [["revoke", "--sub", "alice", "--dir", join(tmp.dir, "nowhere")], key, 1, "there is no store file", true],
      // no server listens on port 1; the password in the URL is never printed
      [["list", "--store", "redis", "--redis-url", `redis://:${CANARY}@127.0.0.1:1`], key, 1, "redis credential store", true],
      [["list", "--store", "postgres"], { ...key, DATABASE_URL: `postgres://u:${CANARY}@127.0.0.1:1/db` }, 1, "connection refused (connection from DATABASE_URL)", true],
      [["list", "--store", "postgres"], key, 2, "--database-url", true],
      // fix: an empty variable does not hide the next one (it was taken, and Redis fell back to localhost)
      [["list", "--store", "redis"], { ...key, MCP_CREDENTIALS_REDIS_URL: "", REDIS_URL: `redis://:${CANARY}@127.0.0.1:1` }, 1, "(connection from REDIS_URL)", true],
      [["list"], key, 2, "--dir", false],
      [["revoke", ...store], key, 2, "--sub", false],
      [["revoke", "--sub", " ", ...store], key, 2, "--sub", false],
      [["list", "--store", "mongo"], {}, 2, "--store", false],
      [["list"], { MCP_CREDENTIALS_STORE: "mongo" }, 2, "MCP_CREDENTIALS_STORE", false],
      [["list", "--redis-url", `redis://:${CANARY}@x`, ...store], key, 2, "--redis-url", false],
      [["list", "--store", "postgres", "--schema", "Bad-Name"], { ...key, DATABASE_URL: "postgres://x/y" }, 2, "--schema", false]
    ]
    const results = await Promise.all(cases.map(([args, env, , , binary]) => binary ? run(["vault", ...args], { env }) : runInProcess(["vault", ...args], env)))
    for (const [i, [args, , code, named]] of cases.entries()) {
      const r = results[i]!
      const what = `${args.join(" ")}: ${r.stderr}`
      assert.strictEqual(r.code, code, what)
      assert.strictEqual(r.stdout, "", what)
      assert.isTrue(isOneLine(r.stderr), what)
      assert.include(r.stderr, named, what)
      noCanary(r)
    }
  })
})

// -----------------------------------------------------------------------------
// Redis
// -----------------------------------------------------------------------------

const redisUrl = process.env.MCP_CREDENTIALS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379"
const redisPrefix = `mcp-cli-test:${RUN}:`
const redisUnavailable = await (async () => {
  const client = new Redis(redisUrl, { lazyConnect: true, connectTimeout: 1500, maxRetriesPerRequest: 0, retryStrategy: () => null })
  client.on("error", () => {})
  try {
    await client.connect()
    await client.ping()
    await client.quit()
    return undefined
  } catch (e) {
    client.disconnect()
    return `Redis at ${new URL(redisUrl).host} is not reachable (${(e as Error).message})`
  }
})()

withService("Redis", redisUnavailable, () => {
  beforeAll(assertBuilt)
  afterAll(async () => {
    const admin = new Redis(redisUrl)
    const keys: Array<string> = []
    let cursor = "0"
    do {
      const [next, batch] = await admin.scan(cursor, "MATCH", `${redisPrefix}*`, "COUNT", 500)
      cursor = next
      keys.push(...batch)
    } while (cursor !== "0")
    if (keys.length > 0) await admin.del(...keys)
    await admin.quit()
  })
  it("fix: a malformed record is a store error (exit 1) in Redis's words, not an internal error; nothing stored is quoted", async () => {
    // a prefix of its own (under this run's, removed afterwards): the flow's listing is not disturbed
    const prefix = `${redisPrefix}malformed:`
    const admin = new Redis(redisUrl)
    try {
      for (const [value, reason] of [["null", "a stored record is malformed"], [`${CANARY}{`, "a stored record is not valid JSON"]]) {
        await admin.set(`${prefix}cred:x:y`, value!)
        const r = await run(["vault", "list", "--store", "redis", "--redis-prefix", prefix], {
          env: { MCP_CREDENTIALS_ENCRYPTION_KEY: KEY, MCP_CREDENTIALS_REDIS_URL: redisUrl }
        })
        const what = `${value}: ${r.stderr}`
        assert.strictEqual(r.code, 1, what)
        assert.isTrue(isOneLine(r.stderr), what)
        assert.notInclude(r.stderr, "internal error", what)
        assert.notInclude(r.stderr, "store file", what)
        assert.include(r.stderr, `Cannot read the redis credential store: ${reason} (connection from MCP_CREDENTIALS_REDIS_URL)`, what)
        noCanary(r)
      }
    } finally {
      await admin.del(`${prefix}cred:x:y`)
      await admin.quit()
    }
  })
  flow(() => ({
    name: "redis",
    unavailable: redisUnavailable,
    args: ["--store", "redis", "--redis-prefix", redisPrefix],
    env: { MCP_CREDENTIALS_REDIS_URL: redisUrl },
    layer: RedisStore.layer({ url: Redacted.make(redisUrl), prefix: redisPrefix }).pipe(
      Layer.provide(Keyring.layer(Redacted.make(KEY)))
    )
  }), false)
})

// -----------------------------------------------------------------------------
// Postgres
// -----------------------------------------------------------------------------

const schema = `mcp_cli_test_${RUN}`
const pgCandidates = process.env.MCP_CREDENTIALS_TEST_DATABASE_URL !== undefined
  ? [process.env.MCP_CREDENTIALS_TEST_DATABASE_URL]
  : ["postgres://postgres@127.0.0.1:5432/test", "postgres://root@127.0.0.1:5432/test"]
const pgClient = (url: string) => PgClient.layer({ url: Redacted.make(url), connectTimeout: "3 seconds" })
const sqlAt = <A>(url: string, f: (sql: PgClient.PgClient) => Effect.Effect<A, unknown>) =>
  Effect.runPromise(Effect.scoped(Effect.flatMap(PgClient.PgClient, f).pipe(Effect.provide(pgClient(url)))))
const pg = await (async (): Promise<{ readonly url?: string; readonly reason?: string }> => {
  const reasons: Array<string> = []
  for (const url of pgCandidates) {
    try {
      await sqlAt(url, (sql) => sql`SELECT 1`)
      return { url }
    } catch (e) {
      reasons.push(String((e as Error)?.message ?? e).split("\n")[0]!)
    }
  }
  return { reason: `Postgres is not reachable at ${pgCandidates.map((u) => new URL(u).host).join(", ")} (${reasons.join("; ")})` }
})()

withService("Postgres", pg.reason, () => {
  beforeAll(assertBuilt)
  afterAll(() => sqlAt(pg.url!, (sql) => sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)))
  flow(() => ({
    name: "postgres",
    unavailable: pg.reason,
    args: ["--store", "postgres", "--schema", schema],
    env: { MCP_CREDENTIALS_DATABASE_URL: pg.url! },
    layer: PgStore.layer({ schema }).pipe(
      Layer.provide(Layer.merge(Keyring.layer(Redacted.make(KEY)), pgClient(pg.url!)))
    )
  }), false)
})
