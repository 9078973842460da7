/**
 * The `tasks` section: durable async tool calls (issue 14; docs/design/issue-14-tasks.md §4.3). Global:
 * every tenant's core uses the same settings (each core has its own registry: gateway/tasks/registry.ts).
 *
 * Durations are milliseconds and at most MAX_TASK_TIMER_MS: deadlines, TTLs and sweeps are Node timers,
 * and a timer asked to wait longer than 2^31-1 ms fires at once. Cross-field rules (a default TTL
 * within the maximum, a poll floor under its ceiling, a per-owner cap within the total) are reported
 * at the field to change.
 */
import { z } from 'zod';
import { strictObject as strict } from './keys.js';

/** Longest duration a setting may name: the longest a Node timer waits (2^31-1 ms, about 24.8 days). */
export const MAX_TASK_TIMER_MS = 2_147_483_647;

/** A whole number of milliseconds from `min` to `max` (default MAX_TASK_TIMER_MS). */
const ms = (what: string, min: number, max = MAX_TASK_TIMER_MS) =>
  z
    .number()
    .int(`${what} is a whole number of milliseconds`)
    .min(min, `${what} is at least ${min} (milliseconds)`)
    .max(
      max,
      max === MAX_TASK_TIMER_MS
        ? `${what} is at most ${MAX_TASK_TIMER_MS} (about 24.8 days, the longest a timer can wait)`
        : `${what} is at most ${max} (milliseconds)`,
    );

const count = (what: string, max: number) =>
  z.number().int(`${what} is a whole number`).min(1, `${what} is at least 1`).max(max, `${what} is at most ${max}`);

/** How often an upstream task is polled: from minMs, doubling while it does not change, up to maxMs. */
export const upstreamPollSchema = strict({
  minMs: ms('upstreamPoll.minMs', 10, 600_000).default(250),
  maxMs: ms('upstreamPoll.maxMs', 10, 600_000).default(10_000),
})
  .superRefine((poll, ctx) => {
    if (poll.minMs > poll.maxMs)
      ctx.addIssue({
        code: 'custom',
        path: ['minMs'],
        message: `minMs (${poll.minMs}) is above maxMs (${poll.maxMs}): polling starts at minMs and backs off up to maxMs`,
      });
  })
  .prefault({});

/** The `tasks` section. */
export const tasksSchema = strict({
  /** Offer tasks to agents (both eras' capabilities, call_capability `async`, get_call, cancel_call). */
  enabled: z.boolean().default(true),
  /** TTL of a task whose agent asks for none. */
  defaultTtlMs: ms('defaultTtlMs', 1_000).default(3_600_000),
  /** Longest TTL: an agent's is clamped to it, and the effective TTL is what the task reports. */
  maxTtlMs: ms('maxTtlMs', 1_000).default(86_400_000),
  /** A settled task's result is kept at least this long: expires_at = max(created + ttl, settled + this). */
  minRetentionMs: ms('minRetentionMs', 0).default(60_000),
  /** The poll interval suggested to agents. */
  pollIntervalMs: ms('pollIntervalMs', 100, 300_000).default(1_000),
  /** Deadline of a task-run call when its server sets no timeoutMs (gateway.callTimeoutMs stays for plain calls). */
  callTimeoutMs: ms('callTimeoutMs', 1).default(3_600_000),
  /** `auto`: use an upstream's own tasks where it offers them; `never`: the gateway runs every task. */
  upstream: z.enum(['auto', 'never'], { error: 'use "auto" (the default) or "never"' }).default('auto'),
  upstreamPoll: upstreamPollSchema,
  /** Tasks not yet finished, per tenant core; past it a new task is refused (TASK_LIMIT). */
  maxActive: count('maxActive', 1_000_000).default(10_000),
  /** Tasks not yet finished, per owner. */
  maxPerOwner: count('maxPerOwner', 1_000_000).default(1_000),
  /** How often expired tasks are swept (and deleted). */
  purgeIntervalMs: ms('purgeIntervalMs', 1_000, 86_400_000).default(60_000),
  restart: strict({
    /** After a restart, re-run gateway-run calls that are read-only or idempotent (`safe`), or fail them all (`never`). */
    rerun: z.enum(['safe', 'never'], { error: 'use "safe" (the default) or "never"' }).default('safe'),
  }).prefault({}),
})
  .superRefine((tasks, ctx) => {
    if (tasks.defaultTtlMs > tasks.maxTtlMs)
      ctx.addIssue({
        code: 'custom',
        path: ['defaultTtlMs'],
        message: `defaultTtlMs (${tasks.defaultTtlMs}) is above maxTtlMs (${tasks.maxTtlMs}): the default would be clamped at once; lower it or raise maxTtlMs`,
      });
    if (tasks.maxPerOwner > tasks.maxActive)
      ctx.addIssue({
        code: 'custom',
        path: ['maxPerOwner'],
        message: `maxPerOwner (${tasks.maxPerOwner}) is above maxActive (${tasks.maxActive}): one owner could never reach it; lower it or raise maxActive`,
      });
  })
  .prefault({});

/** The parsed `tasks` section. */
export type TasksConfig = z.infer<typeof tasksSchema>;
