import { Effect, Layer, Redacted } from "effect"
import { Redis } from "ioredis"
import * as crypto from "node:crypto"
import { afterAll } from "vitest"
import type { StoreKey } from "../src/CredentialStore.js"
import { sha256 } from "../src/internal/records.js"
import { Keyring } from "../src/index.js"
import * as RedisStore from "../src/RedisStore.js"
import { contract, keyA } from "./contract.js"
import { probeRedis, redisUrl as url } from "./services.js"

const run = `mcv-test:${crypto.randomBytes(4).toString("hex")}:`

const unavailable = await probeRedis()

const admin = unavailable === undefined ? new Redis(url) : undefined
const keysUnder = async (prefix: string) => {
  const keys: Array<string> = []
  let cursor = "0"
  do {
    const [next, batch] = await admin!.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 500)
    cursor = next
    keys.push(...batch)
  } while (cursor !== "0")
  return keys.sort()
}
afterAll(async () => {
  if (admin === undefined) return
  const keys = await keysUnder(run)
  if (keys.length > 0) await admin.del(...keys)
  await admin.quit()
})

type Rec = { p: string; s: string; g: number; c: string }
let n = 0

contract({
  name: "redis",
  unavailable,
  crossInstance: true,
  fresh: () => {
    const prefix = `${run}${++n}:`
    const options = { url: Redacted.make(url), prefix }
    const credKey = (key: StoreKey) => `${prefix}cred:${sha256(key.subject)}:${sha256(key.provider)}`
    const get = (key: StoreKey) =>
      Effect.promise(async () => {
        const raw = await admin!.get(credKey(key))
        return raw === null ? undefined : (JSON.parse(raw) as Rec)
      })
    const put = (key: StoreKey, rec: Rec) => Effect.promise(() => admin!.set(credKey(key), JSON.stringify(rec)))
    return {
      layer: (keys = keyA) => RedisStore.layer(options).pipe(Layer.provide(Keyring.layer(Redacted.make(keys)))),
      layerConfig: () => RedisStore.layer(options).pipe(Layer.provide(Keyring.layerConfig())),
      raw: {
        dump: Effect.promise(async () => {
          const keys = (await keysUnder(prefix)).filter((k) => !k.includes(":gen:"))
          const values = keys.length === 0 ? [] : await admin!.mget(...keys)
          return keys.map((k, i) => `${k}=${values[i]}`).join("\n")
        }),
        sealed: (key) => Effect.map(get(key), (r) => r?.c),
        move: (from, to) => Effect.flatMap(get(from), (r) => put(to, { ...r!, p: to.provider, s: to.subject })),
        stripExpiry: (key) => Effect.promise(() => admin!.persist(credKey(key))),
        copyVerbatim: (from, to) => Effect.flatMap(get(from), (r) => put(to, r!)),
        replace: (key, sealed) => Effect.flatMap(get(key), (r) => put(key, { ...r!, c: sealed }))
      }
    }
  }
})
