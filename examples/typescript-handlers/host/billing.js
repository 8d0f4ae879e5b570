// The host side of the example: a typed, validated host module the guest imports as host:billing.
import { defineHostModule, hostFunction } from '@hyperlight/host-modules';
import { z } from 'zod';

const customers = new Map([
  ['acme', { id: 'acme', name: 'ACME Corp.', paymentTermDays: 30 }],
  ['globex', { id: 'globex', name: 'Globex', paymentTermDays: 14 }],
]);
const Customer = z.object({ id: z.string(), name: z.string(), paymentTermDays: z.number().int() });

export const billing = defineHostModule(
  'billing',
  {
    customer: hostFunction({
      args: [z.string().min(1)],
      params: ['id'],
      returns: Customer.nullable(),
      description: 'The customer with this id, or null.',
      handler: async (id) => customers.get(id) ?? null,
    }),
    price: hostFunction({
      args: [z.enum(['basic', 'pro']), z.number().int().positive()],
      params: ['plan', 'seats'],
      returns: z.number(),
      description: 'The price in cents of a plan for a number of seats.',
      handler: (plan, seats) => (plan === 'pro' ? 2500 : 900) * seats,
    }),
  },
  { timeoutMs: 1000 },
);
