// What a storefront written against the generated TypeScript client does: must compile (tsc --strict).
import type { components } from "./api";

type Problem = components["schemas"]["Problem"];
type Cart = components["schemas"]["Cart"];

// A free-form object must hold members: a bare `type: object` made details a Record<string, never>.
export const shortStock: Problem = {
  type: "https://quanqu.dev/problems/inventory.insufficient_stock",
  title: "Conflict",
  status: 409,
  detail: "not enough stock",
  code: "inventory.insufficient_stock",
  details: { lines: [{ sku: "TEE-ORGANIC-NAVY-S", requested: 3, available: 1 }] },
};

export function shortLines(p: Problem): unknown[] {
  const lines = p.details?.lines;
  return Array.isArray(lines) ? lines : [];
}

// The cart's chosen shipping carries the provider's data.
export function distance(c: Cart): unknown {
  return c.shipping?.data.distance_km;
}

export function clientSecret(s: components["schemas"]["PaymentSession"]): unknown {
  return s.data.client_secret;
}
