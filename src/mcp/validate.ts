/**
 * Validates tool arguments against the tool's input schema before the call leaves the gateway, so
 * an agent's mistake is answered at once, with the schema's words, and never reaches a backend.
 * Validators are compiled once per tool definition object (snapshots keep definitions frozen).
 */
import { fromJsonSchema, type JsonSchemaType, type Tool } from '@modelcontextprotocol/server';

type Check = (value: unknown) => string | undefined;

/** Caches one compiled validator per tool definition. */
export class ArgumentValidator {
  readonly #cache = new WeakMap<object, Check>();

  /** Problems with `args` as one readable string, or undefined when they are valid. */
  check(tool: Tool, args: Record<string, unknown>): string | undefined {
    let check = this.#cache.get(tool);
    if (!check) {
      check = compile(tool.inputSchema as JsonSchemaType);
      this.#cache.set(tool, check);
    }
    return check(args);
  }
}

function compile(schema: JsonSchemaType): Check {
  let standard: ReturnType<typeof fromJsonSchema>;
  try {
    standard = fromJsonSchema(schema);
  } catch {
    // A schema the validator cannot compile is the upstream's business; let the call through.
    return () => undefined;
  }
  return (value) => {
    const result = standard['~standard'].validate(value);
    if (result instanceof Promise) return undefined;
    if (!result.issues || result.issues.length === 0) return undefined;
    return result.issues.map((issue) => issue.message).join('; ');
  };
}
