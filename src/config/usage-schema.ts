/**
 * The `usage` and `quotas` sections of the config: the price table that turns metered usage into cost
 * (usage reports, /v1/usage, cost quotas) and the per-tenant quotas on calls or cost per UTC day or month.
 *
 *   usage:
 *     currency: EUR
 *     prices:
 *       default: { perCall: 0.001 }
 *       servers: { github: { perCall: 0.002, perSecond: 0.01 } }
 *       tools: { github__search_code: { perCall: 0.01, perMb: 0.5 } }
 *   quotas:
 *     - { tenant: '*', period: day, calls: 10000 }
 *     - { tenant: acme, period: month, cost: 250 }
 *
 * A call's price is the first of `tools[its exposed tool id]`, `servers[its server]`, `default`; the
 * price chosen is used whole (its missing fields are 0, never taken from a lower level); no price at all
 * costs 0. One MB is 1,000,000 bytes (decimal, as billing meters count), of bytes in plus bytes out.
 * The mounted sections are read by usage/prices.ts and usage/quotas.ts.
 */
import { z } from 'zod';
import { principalName } from './auth-schema.js';
import { strictObject as strict } from './keys.js';

const amount = (what: string) =>
  z
    .number({ error: `${what} must be a number (0 or more), in the currency of usage.currency` })
    .min(0, `${what} cannot be negative`)
    .optional();

/** One price; a missing field is 0. */
export const priceSchema = strict({
  /** Per call (errors included: a failed call is still a call). */
  perCall: amount('perCall'),
  /** Per second of the call's duration (fractions of a second count). */
  perSecond: amount('perSecond'),
  /** Per MB (1,000,000 bytes) of bytes in plus bytes out. */
  perMb: amount('perMb'),
});

/** A price as configured. */
export type Price = z.infer<typeof priceSchema>;

/** The `usage` section. */
export const usageSchema = strict({
  /** The unit costs are written in (a label on reports and quota errors; no conversion is done). */
  currency: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9 ._-]{0,15}$/, 'currency: a short label such as USD, EUR or credits')
    .default('USD'),
  prices: strict({
    /** The price of every call that has no tool or server price. */
    default: priceSchema.optional(),
    /** By server name. */
    servers: z.record(z.string().min(1), priceSchema).default({}),
    /** By exposed tool id (as agents call it, e.g. `github__search_code`); wins over the server's price. */
    tools: z.record(z.string().min(1), priceSchema).default({}),
  }).prefault({}),
}).prefault({});

/** The `usage` section as validated (defaults applied). */
export type UsageConfig = z.infer<typeof usageSchema>;

/** The price table of the `usage` section. */
export type PriceTableConfig = UsageConfig['prices'];

/** Quota periods: UTC calendar days and months. */
export const quotaPeriods = ['day', 'month'] as const;
export type QuotaPeriod = (typeof quotaPeriods)[number];

/** One quota. */
export const quotaSchema = strict({
  /** The tenant it caps, or `*`: each tenant on its own (not all of them together). */
  tenant: z.union([z.literal('*'), principalName], {
    error: 'tenant: a tenant name (letters, digits, ".", "_" or "-") or "*" for each tenant',
  }),
  period: z.enum(quotaPeriods, { error: 'period: day or month (UTC calendar days and months)' }),
  /** Requests per period. */
  calls: z
    .number({ error: 'calls must be a whole number of 1 or more' })
    .int('calls must be a whole number')
    .min(1, 'calls must be 1 or more')
    .optional(),
  /** Cost per period, in usage.currency under usage.prices. */
  cost: z.number({ error: 'cost must be a number above 0' }).positive('cost must be above 0').optional(),
}).refine((quota) => quota.calls !== undefined || quota.cost !== undefined, {
  message: 'a quota needs calls or cost (or both), for example { tenant: acme, period: day, calls: 10000 }',
});

/** A quota as configured. */
export type QuotaConfig = z.infer<typeof quotaSchema>;

/**
 * The `quotas` section. For each tenant and period, the entries that name the tenant apply; only when
 * none does do the `*` entries apply (so a tenant's own quota replaces the common one for that period).
 */
export const quotasSchema = z.array(quotaSchema).default([]);

/** The `quotas` section as validated. */
export type QuotasConfig = z.infer<typeof quotasSchema>;
