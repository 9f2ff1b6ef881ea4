/**
 * Errors a tool means to show to the client. Anything else a tool fails with is unexpected: the
 * client sees a generic message with a correlation id and the detail goes to the server log.
 *
 * @since 0.1.0
 */
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"

/**
 * A failure whose message is shown to the client as an `isError` tool result (after secrets are
 * scrubbed from it). Fail with it in an Effect tool, or throw it from a plain async tool.
 *
 * @since 0.1.0
 * @category errors
 */
export class ToolError extends Schema.TaggedError<ToolError>("@mcp-credentials/server/ToolError")("ToolError", {
  message: Schema.String
}) {}

/**
 * @since 0.1.0
 * @category refinements
 */
export const isToolError = (u: unknown): u is ToolError => Predicate.isTagged(u, "ToolError") && u instanceof ToolError
