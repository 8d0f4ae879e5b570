// A handler calling a typed host module (host:billing, declared in ../host-modules.generated.d.ts) and an
// npm library; its errors map back to this file through the source map.

import { customer, price } from 'host:billing';
import { defineHandler } from '@hyperlight/bundler/guest';
import { addDays, format, parseISO } from 'date-fns';

interface InvoiceEvent {
  customerId: string;
  plan: 'basic' | 'pro';
  seats: number;
  issued: string;
}

interface Invoice {
  customer: string;
  totalCents: number;
  due: string;
}

function requireCustomer(id: string) {
  const found = customer(id);
  if (found === null) throw new Error(`unknown customer ${id}`);
  return found;
}

export default defineHandler<InvoiceEvent, Invoice>((event) => {
  const who = requireCustomer(event.customerId);
  const issued = parseISO(event.issued);
  return {
    customer: who.name,
    totalCents: price(event.plan, event.seats),
    due: format(addDays(issued, who.paymentTermDays), 'yyyy-MM-dd'),
  };
});
