/**
 * Who a vault flow is for: the caller of the tool call, shared by the CredentialsProvider and the
 * OAuth authorization flows.
 */
import type { CredentialBackend } from "@mcp-credentials/core"
import type * as ToolContext from "@mcp-credentials/server/ToolContext"
import * as Option from "effect/Option"

/** The user of the call: the access token's `sub` (never the client id), and a label. */
export const userOf = (
  tool: Option.Option<ToolContext.ToolContextShape>,
  request: CredentialBackend.CredentialRequest
): Option.Option<{ readonly subject: string; readonly label: string }> => {
  if (Option.isSome(tool)) {
    const info = tool.value.authInfo
    if (Option.isNone(info)) return Option.none()
    const sub = info.value.extra?.sub
    if (typeof sub !== "string" || sub === "") return Option.none()
    const claims = info.value.extra?.claims as Record<string, unknown> | undefined
    const name = claims?.preferred_username
    return Option.some({ subject: sub, label: typeof name === "string" && name !== "" ? name : sub })
  }
  const subject = request.user?.subject
  return subject === undefined || subject === "" ? Option.none() : Option.some({ subject, label: subject })
}
