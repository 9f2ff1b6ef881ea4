/**
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as McpCredentials from "./McpCredentials.js"

/**
 * @since 0.1.0
 */
export * as McpHttpServer from "./McpHttpServer.js"

/**
 * @since 0.1.0
 */
export * as McpCredentialsV2 from "./McpCredentialsV2.js"

/**
 * @since 0.1.0
 */
export * as McpHttpServerV2 from "./McpHttpServerV2.js"

/**
 * @since 0.1.0
 */
export * as Scrubber from "./Scrubber.js"

/**
 * @since 0.1.0
 */
export * as ToolContext from "./ToolContext.js"

/**
 * @since 0.1.0
 */
export * as ToolError from "./ToolError.js"

export {
  /**
   * @since 0.1.0
   */
  getCredentials
} from "./McpCredentials.js"
