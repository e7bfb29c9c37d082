/** Where the engine's parts log: timestamped lines on stderr in a long-running process, nothing in a library call. */
export interface EngineLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: EngineLogger = { info() {}, warn() {} };
