import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"
import * as crypto from "node:crypto"
import { afterAll } from "vitest"
import type { StoreKey } from "../src/CredentialStore.js"
import { credentialId } from "../src/internal/records.js"
import { Keyring } from "../src/index.js"
import * as PgStore from "../src/PgStore.js"
import { contract, keyA } from "./contract.js"

const run = `mcv_test_${crypto.randomBytes(4).toString("hex")}_`
const clientLayer = (username: string) =>
  PgClient.layer({ host: "127.0.0.1", port: 5432, database: "test", username, connectTimeout: "3 seconds" })

const sqlAs = <A>(username: string, f: (sql: PgClient.PgClient) => Effect.Effect<A, unknown>) =>
  Effect.runPromise(Effect.scoped(Effect.flatMap(PgClient.PgClient, f).pipe(Effect.provide(clientLayer(username)))))

const probe = async (): Promise<{ user?: string; reason?: string }> => {
  const reasons: Array<string> = []
  for (const user of ["postgres", "root"]) {
    try {
      await sqlAs(user, (sql) => sql`SELECT 1`)
      return { user }
    } catch (e) {
      reasons.push(`${user}: ${String((e as Error)?.message ?? e).split("\n")[0]}`)
    }
  }
  return { reason: `Postgres at 127.0.0.1:5432 database test is not reachable (${reasons.join("; ")})` }
}
const found = await probe()
const user = found.user ?? "postgres"
const sql = <A>(f: (sql: PgClient.PgClient) => Effect.Effect<A, unknown>) => Effect.promise(() => sqlAs(user, f))

afterAll(async () => {
  if (found.user === undefined) return
  await sqlAs(user, (sql) =>
    Effect.gen(function*() {
      const rows = yield* sql<{ schema_name: string }>`SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE ${run + "%"}`
      for (const r of rows) yield* sql.unsafe(`DROP SCHEMA "${r.schema_name}" CASCADE`)
    }))
})

let n = 0
contract({
  name: "postgres",
  unavailable: found.reason,
  crossInstance: true,
  fresh: () => {
    const schema = `${run}${++n}`
    const store = PgStore.layer({ schema }).pipe(Layer.provide(clientLayer(user)))
    const t = `"${schema}".credentials`
    return {
      layer: (keys = keyA) => store.pipe(Layer.provide(Keyring.layer(Redacted.make(keys)))),
      layerConfig: () => store.pipe(Layer.provide(Keyring.layerConfig())),
      raw: {
        dump: sql((s) =>
          Effect.gen(function*() {
            const out: Array<unknown> = []
            for (const table of ["credentials", "pending", "results"]) {
              out.push(yield* s.unsafe(`SELECT * FROM "${schema}".${table} ORDER BY id`))
            }
            return JSON.stringify(out)
          })
        ),
        sealed: (key: StoreKey) =>
          sql((s) => s.unsafe<{ sealed: string }>(`SELECT sealed FROM ${t} WHERE id = $1`, [credentialId(key)])).pipe(
            Effect.map((rows) => rows[0]?.sealed)
          ),
        move: (from: StoreKey, to: StoreKey) =>
          sql((s) =>
            s.unsafe(
              `UPDATE ${t} SET sealed = (SELECT sealed FROM ${t} WHERE id = $1) WHERE id = $2`,
              [credentialId(from), credentialId(to)]
            )
          ),
        stripExpiry: (key: StoreKey) =>
          sql((s) => s.unsafe(`UPDATE ${t} SET expires_at = NULL WHERE id = $1`, [credentialId(key)])),
        copyVerbatim: (from: StoreKey, to: StoreKey) =>
          sql((s) =>
            s.unsafe(
              `UPDATE ${t} SET (provider, subject, generation, sealed) = (SELECT provider, subject, generation, sealed FROM ${t} WHERE id = $1) WHERE id = $2`,
              [credentialId(from), credentialId(to)]
            )
          ),
        replace: (key: StoreKey, sealed: string) =>
          sql((s) => s.unsafe(`UPDATE ${t} SET sealed = $1 WHERE id = $2`, [sealed, credentialId(key)]))
      }
    }
  }
})
