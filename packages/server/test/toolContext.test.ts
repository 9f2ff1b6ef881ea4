import { describe, expect, it } from "vitest"
import { CurrentCredential, ResolvedCredential } from "@mcp-credentials/core"
import { Effect } from "effect"
import * as ToolContextBuilder from "../src/internal/toolContext.js"
import { Scrubber } from "../src/index.js"

describe("ToolContext built after the call's scope closed (a cancelled call, a late context)", () => {
  it("fix: what the tool sends is still scrubbed of the call's credentials, from the call's frame", async () => {
    const secret = "sk-late-context-0123456789"
    const credentials = new Map([["default", ResolvedCredential.StaticCredential.fromFields({ apiKey: secret })]])
    const controller = new AbortController()
    const scope = new CurrentCredential.CredentialScope(credentials, controller.signal)
    controller.abort() // the client cancelled: the scope holds nothing any more
    expect(scope.isOpen).toBe(false)
    const sent: Array<unknown> = []
    const context = CurrentCredential.unsafeRunInScope(scope, () =>
      ToolContextBuilder.make({
        toolName: "t",
        authInfo: undefined,
        sessionId: undefined,
        requestId: 1,
        signal: controller.signal,
        progressToken: "p",
        clientCapabilities: undefined,
        headers: () => ({}),
        // the scrubber the call's frame keeps (callTool builds it from the resolved credentials)
        scrubber: Scrubber.make([...credentials.values()].flatMap(ResolvedCredential.secretValues)),
        notify: async (notification) => void sent.push(notification),
        log: async (_level, data) => void sent.push(data),
        elicit: async () => ({ action: "cancel" })
      }))
    await Effect.runPromise(context.log("info", { note: `key ${secret}` }))
    await Effect.runPromise(context.progress(1, { message: `using ${secret}` }))
    await Effect.runPromise(context.notify!("notifications/custom", { secret }))
    const text = JSON.stringify(sent)
    expect(text).not.toContain(secret)
    expect(text.match(/\[redacted\]/g)?.length).toBe(3)
  })
})
