/**
 * Plain tools read their credential from Node's async context, and a callback runs in the context
 * of the code that calls it: a listener one client's call registers on a shared `EventEmitter`,
 * fired by another client's call, reads that other call's credential (Node's behaviour, documented);
 * `McpCredentials.bind` keeps the callback in its own call. What a call sends is scrubbed of its
 * own secrets only: scrubbing it of other clients' secrets too told a client which of its guesses
 * was another user's value. Real clients of both SDK lines over HTTP, Header backend.
 */
import { CredentialBackend, CredentialError, HeaderCredentialBackend } from "@mcp-credentials/core"
import { Effect, Layer } from "effect"
import { z } from "zod"
import { EventEmitter } from "node:events"
import { afterEach, describe, expect, it } from "vitest"
import { McpCredentials } from "../src/index.js"
import { textOf } from "./helpers.js"
import { flushRecords, lines } from "./lines.js"

const alice = "ALICEKEY-1111-aaaa"
const bob = "BOBKEY-2222-bbbb"
const fields = (apiKey: string) => ({ "X-MCP-Cred-Fields": JSON.stringify({ apiKey }) })

describe("a callback another call fires (plain tools)", () => {
  const closers: Array<() => Promise<void>> = []
  afterEach(async () => {
    await Promise.all(closers.splice(0).map((c) => c()))
  })

  for (const line of lines) {
    const serve = async (bound: boolean) => {
      const bus = new EventEmitter() // a shared client's events, a job queue: shared by every call
      const build = (runtime: any) => {
        const server = line.newServer()
        const creds = line.install(server, { runtime })
        creds.registerTool("wait", { description: "waits for the bus", credentials: "static" }, () =>
          new Promise((resolve) => {
            // which key it read (its own key in the result would be scrubbed as any secret)
            const read = () => {
              const key = McpCredentials.getField("apiKey")
              resolve({ content: [{ type: "text", text: `it read ${key === alice ? "alice's" : key === bob ? "bob's" : "another"} key` }] })
            }
            bus.once("tick", bound ? McpCredentials.bind(read) : read)
          }))
        creds.registerTool("tick", { description: "fires the bus", credentials: "static" }, async () => {
          bus.emit("tick")
          return { content: [{ type: "text", text: "ticked" }] }
        })
        return server
      }
      const served = await line.start(build, HeaderCredentialBackend.layer())
      closers.push(served.close)
      const record: Array<string> = []
      const a = await line.connect(served.url, fields(alice), record)
      const b = await line.connect(served.url, fields(bob), record)
      closers.push(a.close, b.close)
      const waiting = a.callTool({ name: "wait" })
      // the listener is registered once alice's call runs
      await new Promise((r) => setTimeout(r, 300))
      expect(textOf(await b.callTool({ name: "tick" }))).toBe("ticked")
      const text = textOf(await waiting)
      await flushRecords()
      return { text, record: record.join("\n") }
    }

    it(`${line.name}: without bind, alice's listener that bob's call fired reads bob's key (Node's async context, as documented)`, async () => {
      const { record, text } = await serve(false)
      expect(text).toBe("it read bob's key")
      expect(record).not.toContain(bob)
    })

    it(`${line.name}: McpCredentials.bind keeps the listener in alice's call: it reads alice's key`, async () => {
      const { text } = await serve(true)
      expect(text).toBe("it read alice's key")
    })
  }

  for (const line of lines) {
    it(`${line.name}: fix: a client's own input is never redacted for equalling another client's secret (that was an oracle for guessing it)`, async () => {
      const build = (runtime: any) => {
        const server = line.newServer()
        const creds = line.install(server, { runtime })
        creds.registerTool("slow", { description: "holds its call open", credentials: "static" }, () =>
          new Promise((resolve) => setTimeout(() => resolve({ content: [{ type: "text", text: "done" }] }), 800)))
        creds.registerTool(
          "echo",
          { description: "echoes", credentials: "static", inputSchema: { text: z.string() } },
          async ({ text }: { text: string }) => ({ content: [{ type: "text", text: `you sent ${text}` }] })
        )
        return server
      }
      const served = await line.start(build, HeaderCredentialBackend.layer())
      closers.push(served.close)
      const a = await line.connect(served.url, fields(alice))
      const m = await line.connect(served.url, fields("MALLORYKEY-3333-cccc"))
      closers.push(a.close, m.close)
      const slow = a.callTool({ name: "slow" })
      await new Promise((r) => setTimeout(r, 200))
      const guesses = ["ALICEKEY-0000-aaaa", alice, "ALICEKEY-9999-aaaa"]
      const answers = await Promise.all(guesses.map((g) => m.callTool({ name: "echo", arguments: { text: g } })))
      expect(answers.map(textOf)).toEqual(guesses.map((g) => `you sent ${g}`))
      expect(textOf(await slow)).toBe("done")
    })

    it(`${line.name}: fix: a backend of the application that quotes a credential header in its error does not send or log it`, async () => {
      const quoting = Layer.succeed(CredentialBackend.CredentialBackend, {
        resolve: (request) =>
          Effect.fail(
            new CredentialError.InvalidCredentialError({
              variable: "X-MCP-Cred-Api-Key",
              reason: `the key ${String(request.headers?.["x-mcp-cred-api-key"] ?? "")} is not in the allow-list` +
                ` (nor ${JSON.parse(String(request.headers?.["x-mcp-cred-fields"] ?? "{}")).apiKey})`
            })
          )
      })
      const build = (runtime: any) => {
        const server = line.newServer()
        line.install(server, { runtime }).registerTool("t", { description: "d", credentials: "static" }, () => "unreachable")
        return server
      }
      const served = await line.start(build, quoting)
      closers.push(served.close)
      const record: Array<string> = []
      const c = await line.connect(
        served.url,
        { "X-MCP-Cred-Api-Key": "QUOTED-SECRET-7f7f7f", "X-MCP-Cred-Fields": JSON.stringify({ apiKey: "FIELD-SECRET-8e8e8e" }) },
        record
      )
      closers.push(c.close)
      const text = textOf(await c.callTool({ name: "t" }))
      await flushRecords()
      expect(text).toBe("Invalid X-MCP-Cred-Api-Key: the key [redacted] is not in the allow-list (nor [redacted])")
      expect(record.join("\n")).not.toContain("QUOTED-SECRET")
      expect(record.join("\n")).not.toContain("FIELD-SECRET")
    })
  }
})
