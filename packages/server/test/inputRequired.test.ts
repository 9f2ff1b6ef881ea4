/**
 * The input-required seam (2026-07-28 multi-round-trip requests), on both SDK lines: a credential
 * backend whose failure carries `ToolContext.InputRequiredTypeId` ends a v2 call on 2026-07-28 with
 * the SDK's input-required result, and the retry brings the `requestState` back in the call's
 * `ToolContext`; on v1 the same failure stays an `isError` result (v1 behaviour unchanged).
 */
import { describe, expect, it } from "vitest"
import { CredentialBackend, ResolvedCredential } from "@mcp-credentials/core"
import { Effect, Layer, Option } from "effect"
import { ToolContext } from "../src/index.js"
import { textOf } from "./helpers.js"
import { type Line, v1, v2 } from "./lines.js"

class NeedsInput {
  readonly _tag = "NeedsInput"
  readonly message = "svc needs input"
  get [ToolContext.InputRequiredTypeId](): ToolContext.InputRequired {
    return { inputRequests: {}, requestState: "round-2" }
  }
}

/** Fails with an input-required marker until the call carries the requestState it issued. */
const backend = (seen: Array<{ protocolVersion?: string | undefined; requestState?: string | undefined }>) =>
  Layer.succeed(CredentialBackend.CredentialBackend, {
    resolve: () =>
      Effect.flatMap(Effect.serviceOption(ToolContext.ToolContext), (tool) => {
        const t = Option.getOrUndefined(tool)
        seen.push({ protocolVersion: t?.protocolVersion, requestState: t?.requestState })
        return t?.requestState === "round-2"
          ? Effect.succeed(ResolvedCredential.StaticCredential.fromFields({ apiKey: "sk-input-0001" }))
          : Effect.fail(new NeedsInput() as any)
      })
  })

const build = (line: Line) => (runtime: any) => {
  const server = line.newServer()
  line.install(server, { runtime }).registerTool("whoami", { description: "x", credentials: "static" }, () => "ran")
  return server
}

describe("input-required results (ToolContext.InputRequiredTypeId)", () => {
  it("v2 on 2026-07-28: the call ends with an input-required result; the client's retry carries the requestState and runs", async () => {
    const seen: Array<{ protocolVersion?: string | undefined; requestState?: string | undefined }> = []
    const http = await v2.start(build(v2), backend(seen))
    const client = await v2.connect(http.url)
    try {
      expect(client.era()).toBe("modern")
      const manual = await client.callTool({ name: "whoami" }, { allowInputRequired: true } as any)
      expect(manual).toMatchObject({ resultType: "input_required", requestState: "round-2" })
      seen.length = 0
      expect(textOf(await client.callTool({ name: "whoami" }))).toBe("ran")
      expect(seen).toEqual([
        { protocolVersion: "2026-07-28", requestState: undefined },
        { protocolVersion: "2026-07-28", requestState: "round-2" }
      ])
    } finally {
      await client.close()
      await http.close()
    }
  })

  it("v1: the same failure is an isError result naming no state", async () => {
    const seen: Array<{ protocolVersion?: string | undefined; requestState?: string | undefined }> = []
    const http = await v1.start(build(v1), backend(seen))
    const client = await v1.connect(http.url)
    try {
      const result = await client.callTool({ name: "whoami" })
      expect(result.isError).toBe(true)
      expect(textOf(result)).toBe("svc needs input")
      expect(seen).toEqual([{ protocolVersion: undefined, requestState: undefined }])
    } finally {
      await client.close()
      await http.close()
    }
  })
})
