/**
 * The shared services of the vault's service-backed suites (Redis, Postgres): where they are, a
 * probe that says why one is unusable, and the clean-up of a run's key prefix or schemas. Suites
 * skip with the probe's reason when a service is absent, and fail instead when
 * MCP_CREDENTIALS_REQUIRE_SERVICES=1.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect } from "effect"
import { Redis } from "ioredis"

export const required = process.env.MCP_CREDENTIALS_REQUIRE_SERVICES === "1"
export const redisUrl = process.env.MCP_CREDENTIALS_TEST_REDIS_URL ?? "redis://127.0.0.1:6379"

export const pgClient = (username: string, options: { readonly port?: number; readonly connectTimeout?: `${number} seconds` } = {}) =>
  PgClient.layer({
    host: "127.0.0.1",
    port: options.port ?? 5432,
    database: "test",
    username,
    connectTimeout: options.connectTimeout ?? "3 seconds"
  })

/** `undefined` when Redis answers a PING, else why not. */
export const probeRedis = async (): Promise<string | undefined> => {
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
}

/** The first of `postgres` and `root` that can run a query on database `test`, or why neither can. */
export const probePg = async (): Promise<{ readonly user?: string; readonly reason?: string }> => {
  for (const user of ["postgres", "root"]) {
    try {
      await Effect.runPromise(Effect.scoped(Effect.flatMap(PgClient.PgClient, (sql) => sql`SELECT 1`).pipe(Effect.provide(pgClient(user)))))
      return { user }
    } catch {
      // next
    }
  }
  return { reason: "Postgres at 127.0.0.1:5432 database test is not reachable" }
}

/** Deletes every Redis key under `prefix`. */
export const deleteRedisPrefix = async (prefix: string): Promise<void> => {
  const admin = new Redis(redisUrl)
  let cursor = "0"
  do {
    const [next, keys] = await admin.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500)
    cursor = next
    if (keys.length > 0) await admin.del(...keys)
  } while (cursor !== "0")
  await admin.quit()
}

/** Drops every schema whose name starts with `prefix` (a run's own schemas). */
export const dropPgSchemas = (user: string, prefix: string): Promise<void> =>
  Effect.runPromise(Effect.scoped(
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const rows = yield* sql<{ schema_name: string }>`SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE ${prefix + "%"}`
      for (const r of rows) yield* sql.unsafe(`DROP SCHEMA "${r.schema_name}" CASCADE`)
    }).pipe(Effect.provide(pgClient(user)))
  ))
