// Extracts e-mail addresses and counts them by domain.
export function handler(event) {
  const found = event.text.match(/[\w.+-]+@[\w-]+\.[\w.]+/g) ?? [];
  const byDomain = {};
  for (const address of found) {
    const domain = address.split('@')[1].toLowerCase();
    byDomain[domain] = (byDomain[domain] ?? 0) + 1;
  }
  return { count: found.length, byDomain };
}
